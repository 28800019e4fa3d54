//! Pipes (close-on-exec, nonblocking, capacity) and readiness (epoll with
//! tokens, poll, timeouts rounded up).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use spawn_sys::{Epoll, Errno, Interest, pipe, poll::poll};

#[test]
fn pipes_are_close_on_exec_and_nonblocking_on_request() {
    let (r, w) = pipe().unwrap();
    assert!(spawn_sys::is_cloexec(&r).unwrap() && spawn_sys::is_cloexec(&w).unwrap());
    spawn_sys::set_nonblocking(&r, true).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(&r, &mut buf), Err(Errno::AGAIN));
    rustix::io::write(&w, b"x").unwrap();
    assert_eq!(rustix::io::read(&r, &mut buf), Ok(1));
    spawn_sys::set_nonblocking(&r, false).unwrap();
    let flags = rustix::fs::fcntl_getfl(&r).unwrap();
    assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
    let d = spawn_sys::dup_cloexec(&r).unwrap();
    assert!(spawn_sys::is_cloexec(&d).unwrap());
    assert!(std::os::fd::AsRawFd::as_raw_fd(&d) >= 3);
}

#[test]
fn a_new_pipe_end_turns_nonblocking_in_one_call_and_keeps_its_other_flags() {
    let (r, w) = pipe().unwrap();
    spawn_sys::set_new_pipe_nonblocking(&r).unwrap();
    let flags = rustix::fs::fcntl_getfl(&r).unwrap();
    assert!(flags.contains(rustix::fs::OFlags::NONBLOCK));
    assert!(
        spawn_sys::is_cloexec(&r).unwrap(),
        "FD_CLOEXEC is not a status flag"
    );
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(&r, &mut buf), Err(Errno::AGAIN));
    // The other end is left as it was: a child's end stays blocking.
    let flags = rustix::fs::fcntl_getfl(&w).unwrap();
    assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
    rustix::io::write(&w, b"x").unwrap();
    assert_eq!(rustix::io::read(&r, &mut buf), Ok(1));
}

#[test]
fn pipe_capacity_round_trips_and_is_clamped() {
    let (r, _w) = pipe().unwrap();
    assert_eq!(spawn_sys::set_pipe_size(&r, 256 << 10).unwrap(), 256 << 10);
    assert_eq!(spawn_sys::pipe_size(&r).unwrap(), 256 << 10);
    let max = spawn_sys::max_pipe_size();
    let from_proc: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(max, from_proc);
    assert_eq!(spawn_sys::set_pipe_size(&r, usize::MAX / 2).unwrap(), max);
    assert_eq!(spawn_sys::pipe_size(&r).unwrap(), max);
    // The kernel rounds up to whole pages.
    assert_eq!(spawn_sys::set_pipe_size(&r, 5000).unwrap(), 8192);
}

#[test]
fn epoll_reports_pipe_readiness_with_tokens() {
    let (r, w) = pipe().unwrap();
    let ep = Epoll::new().unwrap();
    let read = Interest {
        readable: true,
        ..Interest::default()
    };
    let write = Interest {
        writable: true,
        ..Interest::default()
    };
    ep.add(&r, 7, read).unwrap();
    ep.add(&w, 8, write).unwrap();
    assert_eq!(ep.add(&r, 7, read), Err(Errno::EXIST));
    let mut ready = Vec::with_capacity(4);
    ep.wait(&mut ready, 4, Some(Duration::ZERO)).unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(
        (ready[0].token, ready[0].writable, ready[0].readable),
        (8, true, false)
    );

    rustix::io::write(&w, b"hello").unwrap();
    ep.delete(&w).unwrap();
    ep.wait(&mut ready, 4, Some(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(
        (ready[0].token, ready[0].readable, ready[0].hangup),
        (7, true, false)
    );

    // A new token; then the writer goes away: hangup.
    ep.modify(&r, 70, read).unwrap();
    drop(w);
    let e = wait_for(&ep, 70, |e| e.hangup);
    assert_eq!((e.readable, e.hangup), (true, true));

    // The read end gone under a writer: error on the write end.
    let (r2, w2) = pipe().unwrap();
    ep.add(&w2, 9, write).unwrap();
    drop(r2);
    let e = wait_for(&ep, 9, |e| e.error);
    assert!(e.error && e.writable, "{e:?}");
}

/// Waits until `token` is reported with `done`. Another test of this
/// process may be spawning a child right now, and that child holds a copy
/// of every fd of ours until it execs: the hangup or error of an end we
/// closed comes only then, while the other readiness is there at once.
fn wait_for(ep: &Epoll, token: u64, done: impl Fn(&spawn_sys::Ready) -> bool) -> spawn_sys::Ready {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = Vec::with_capacity(4);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "token {token}: {ready:?}");
        ep.wait(&mut ready, 4, Some(left)).unwrap();
        if let Some(e) = ready.iter().find(|e| e.token == token && done(e)) {
            return *e;
        }
        std::thread::yield_now();
    }
}

#[test]
fn short_timeouts_wait_rather_than_spin() {
    let ep = Epoll::new().unwrap();
    let (r, _w) = pipe().unwrap();
    ep.add(
        &r,
        1,
        Interest {
            readable: true,
            ..Interest::default()
        },
    )
    .unwrap();
    let mut ready = Vec::new();
    // 300 µs rounds up to 1 ms: the call sleeps, it does not return at once.
    let t = Instant::now();
    ep.wait(&mut ready, 1, Some(Duration::from_micros(300)))
        .unwrap();
    assert!(ready.is_empty());
    assert!(
        t.elapsed() >= Duration::from_micros(300),
        "{:?}",
        t.elapsed()
    );

    let mut fds = [PollFd::new(&r, PollFlags::IN)];
    let t = Instant::now();
    assert_eq!(poll(&mut fds, Some(Duration::from_micros(300))).unwrap(), 0);
    assert!(
        t.elapsed() >= Duration::from_micros(300),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn poll_over_borrowed_fds() {
    let (r, w) = pipe().unwrap();
    let (r2, _w2) = pipe().unwrap();
    rustix::io::write(&w, b"x").unwrap();
    let mut fds = [
        PollFd::new(&r2, PollFlags::IN),
        PollFd::from_borrowed_fd(r.as_fd(), PollFlags::IN),
    ];
    assert_eq!(poll(&mut fds, Some(Duration::from_secs(60))).unwrap(), 1);
    assert!(fds[0].revents().is_empty());
    assert!(fds[1].revents().contains(PollFlags::IN));
}
