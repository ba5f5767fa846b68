//! The binaries' tuning of the C allocator: memory freed by large frames stays with the process.
//!
//! `elbusd` and the `elbus` CLI apply it at start-up; a program embedding the library chooses
//! its own allocator settings. With glibc's defaults every frame of a few dozen KiB costs the
//! broker fresh pages: the
//! buffer a large frame is read into and the delivery built from it are freed once written,
//! the top of the heap is given back to the kernel (`M_TRIM_THRESHOLD`, 128 KiB, adjusted
//! only by frames of 128 KiB and more) and the next frame faults it in again, page by page.
//! At 64 KiB payloads that was about 20 minor page faults per routed message and a third of
//! the broker's CPU time (`perf record` on the `rpc.call` stage of `elbus benchmark -w 8
//! --payload-size 65536`). Keeping up to [`TRIM_THRESHOLD`] of free memory at the top of each
//! heap, and taking frames up to [`MMAP_THRESHOLD`] from the heap instead of a mapping of
//! their own, removes those faults (the CLI's benchmark client: 320k to 10k faults, a quarter
//! of its system time); the queue bounds still bound what the frames themselves hold.

/// Free memory a heap keeps at its top before it is given back: 8 MiB.
pub const TRIM_THRESHOLD: usize = 8 << 20;
/// Allocations at least this large get a mapping of their own: 4 MiB.
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Applies the thresholds unless `GLIBC_TUNABLES` already sets a `glibc.malloc` one (the
/// operator's choice wins). Call before any thread exists. A no-op where the C library is not
/// glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let operator_tuned = std::env::var("GLIBC_TUNABLES")
            .map(|tunables| tunables.contains("glibc.malloc."))
            .unwrap_or(false);
        if operator_tuned {
            return;
        }
        // SAFETY: mallopt only changes the allocator's parameters; it is called before the
        // runtime's threads exist. Both values fit in a c_int.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        }
    }
}
