//! Memory: the page size, and hints for the buffers output is collected
//! in (`madvise`).
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

/// `sysconf(_SC_PAGESIZE)`—The size of a memory page, in bytes; asked once
/// (4096 if the libc cannot tell). Through the libc rather than
/// `rustix::param::page_size`, which reads the auxiliary vector itself and
/// faults under valgrind.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/sysconf.html)
#[must_use]
pub fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf takes no pointer and has no precondition.
            let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let n = usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096);
            PAGE.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// `madvise(MADV_POPULATE_WRITE)`—Faults in, writable, the whole pages
/// inside `buf` in one call, before they are written (Linux 5.14 and
/// later). Contents are unchanged.
///
/// A buffer that is about to receive a pipe's bytes (a growing output
/// `Vec`) is better faulted in first: in one call instead of a trap per
/// page, and not while the kernel holds the pipe's lock during `read(2)`,
/// where the writer would spin on it. Only a hint: on an older kernel, or
/// if the call fails, nothing happens and the pages fault on first write as
/// usual. Returns whether the pages were populated.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/madvise.2.html)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn populate_write(buf: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    const PAGE: usize = 4096;
    let start = buf.as_mut_ptr() as usize;
    let end = start + buf.len();
    let first = start.next_multiple_of(PAGE);
    let last = end & !(PAGE - 1);
    if last <= first {
        return false;
    }
    // SAFETY: [first, last) lies inside `buf` (the pointer stays in it),
    // which we borrow exclusively, and MADV_POPULATE_WRITE neither reads nor changes its contents nor
    // unmaps it: it only faults the pages in, as a write would.
    unsafe {
        rustix::mm::madvise(
            buf.as_mut_ptr().wrapping_add(first - start).cast(),
            last - first,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    }
    .is_ok()
}

/// No `MADV_POPULATE_WRITE` but on Linux: the pages fault on first write;
/// always `false`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn populate_write(buf: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    let _ = buf;
    false
}

#[cfg(test)]
mod tests {
    use super::populate_write;
    use std::mem::MaybeUninit;

    #[test]
    fn the_page_size_is_the_kernels_and_stays_the_same() {
        let n = super::page_size();
        assert!(n.is_power_of_two() && n >= 4096, "{n}");
        assert_eq!(super::page_size(), n);
    }

    #[test]
    fn populating_keeps_the_contents_and_skips_partial_pages() {
        let mut buf: Vec<MaybeUninit<u8>> = (0..5 * 4096 + 123)
            .map(|i| MaybeUninit::new((i % 251) as u8))
            .collect();
        assert!(populate_write(&mut buf));
        for (i, b) in buf.iter().enumerate() {
            // SAFETY: every element was initialised above.
            assert_eq!(unsafe { b.assume_init() }, (i % 251) as u8);
        }
        // Less than a whole page: nothing to do.
        let mut small = [MaybeUninit::new(7u8); 100];
        assert!(!populate_write(&mut small));
        // The spare capacity of a Vec, the way the driver uses it.
        let mut v: Vec<u8> = Vec::with_capacity(1 << 20);
        assert!(populate_write(v.spare_capacity_mut()));
        v.extend(std::iter::repeat_n(9u8, 1 << 20));
        assert!(v.iter().all(|&b| b == 9));
    }
}
