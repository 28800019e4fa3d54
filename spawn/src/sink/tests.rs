//! Unit tests of the sink states.

use super::*;

fn feed(sink: &Sink, chunks: &[&[u8]]) -> (Vec<u8>, u64) {
    let mut st = SinkState::open(sink, StreamName::Stdout).unwrap();
    for c in chunks {
        let _ = st.write(c);
    }
    st.finish().unwrap();
    let dropped = st.dropped();
    (st.take_kept(), dropped)
}

#[test]
fn collect_limit_truncates_and_counts() {
    let (kept, dropped) = feed(&Sink::collect_limit(5), &[b"abc", b"defg", b"h"]);
    assert_eq!(kept, b"abcde");
    assert_eq!(dropped, 3);
}

#[test]
fn collect_limit_error_reports_once() {
    let mut st = SinkState::open(
        &Sink::collect_limit(2).error_on_overflow(),
        StreamName::Stdout,
    )
    .unwrap();
    assert!(st.write(b"ab").is_ok());
    assert!(matches!(st.write(b"c"), Err(SinkError::Overflow(2))));
    assert!(st.write(b"d").is_ok());
    assert_eq!(st.take_kept(), b"ab");
}

#[test]
fn head_tail_keeps_both_ends_whatever_the_chunking() {
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    for chunk in [1, 3, 7, 64, 1000, 10_000] {
        let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
        let (kept, dropped) = feed(&Sink::head_tail(10, 20), &chunks);
        let mut want = data[..10].to_vec();
        want.extend_from_slice(&data[data.len() - 20..]);
        assert_eq!(kept, want, "chunk {chunk}");
        assert_eq!(dropped, 10_000 - 30, "chunk {chunk}");
    }
    let (kept, dropped) = feed(&Sink::head_tail(10, 20), &[b"short"]);
    assert_eq!((kept.as_slice(), dropped), (&b"short"[..], 0));
}

#[test]
fn lines_are_split_across_chunks_and_flushed_at_eof() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    let sink = Sink::lines(move |l| g.lock().unwrap().push(l.to_vec()));
    let (kept, _) = feed(&sink, &[b"a", b"b\nc", b"\n\nlast"]);
    assert!(kept.is_empty());
    let got = got.lock().unwrap();
    assert_eq!(
        *got,
        vec![
            b"ab".to_vec(),
            b"c".to_vec(),
            b"".to_vec(),
            b"last".to_vec()
        ]
    );
}

/// The pieces a `lines` sink delivers for `chunks`, fed as separate reads.
fn lines_of(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    feed(
        &Sink::lines(move |l| g.lock().unwrap().push(l.to_vec())),
        chunks,
    );
    got.lock().unwrap().clone()
}

#[test]
fn a_line_of_exactly_max_line_whose_newline_comes_later_is_one_line() {
    let line = vec![b'a'; MAX_LINE];
    let got = lines_of(&[&line, b"\nnext\n"]);
    assert_eq!(
        got.len(),
        2,
        "pieces of {:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(got[0], line);
    assert_eq!(got[1], b"next");
    // Its `\n` alone in the next read, and the line itself in two reads.
    assert_eq!(lines_of(&[&line, b"\n"]), vec![line.clone()]);
    let (a, b) = line.split_at(MAX_LINE / 3);
    assert_eq!(lines_of(&[a, b, b"\n"]), vec![line.clone()]);
    // Two of them back to back; a genuinely empty line after one stays.
    assert_eq!(
        lines_of(&[&line, b"\n", &line, b"\n\n"]),
        vec![line.clone(), line.clone(), Vec::new()]
    );
}

#[test]
fn long_lines_come_in_max_line_pieces_whatever_the_reads() {
    let len = 2 * MAX_LINE + 5;
    let data: Vec<u8> = (0..len)
        .map(|i| b'a' + (i % 26) as u8)
        .chain(*b"\nshort\n")
        .collect();
    let want = vec![
        data[..MAX_LINE].to_vec(),
        data[MAX_LINE..2 * MAX_LINE].to_vec(),
        data[2 * MAX_LINE..len].to_vec(),
        b"short".to_vec(),
    ];
    for chunk in [
        1000,
        MAX_LINE - 1,
        MAX_LINE,
        MAX_LINE + 1,
        2 * MAX_LINE,
        data.len(),
    ] {
        let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
        assert_eq!(lines_of(&chunks), want, "chunk {chunk}");
    }
    // Exactly 2 * MAX_LINE: two pieces, no empty third.
    let exact = vec![b'x'; 2 * MAX_LINE];
    assert_eq!(
        lines_of(&[&exact[..MAX_LINE], &exact[MAX_LINE..], b"\n"]),
        vec![exact[..MAX_LINE].to_vec(), exact[MAX_LINE..].to_vec()]
    );
}

#[test]
fn tee_feeds_both() {
    let w = Arc::new(Mutex::new(Vec::new()));
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::tee(Sink::writer(Shared(Arc::clone(&w))), Sink::collect());
    let (kept, _) = feed(&sink, &[b"xy", b"z"]);
    assert_eq!(kept, b"xyz");
    assert_eq!(*w.lock().unwrap(), b"xyz");
}
