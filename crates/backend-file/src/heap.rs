//! Giving the memory open used back to the operating system.
//!
//! Open builds the keydir from hint files: each file's hint is read into one buffer and
//! its entries sorted through a temporary index, and the keydir's leaves are allocated
//! between those temporaries. Once open returns the temporaries are free, but glibc's
//! allocator only hands memory back from the top of its heap, so the pages between
//! leaves stay resident. [`release_free_memory`] asks glibc to return every free page
//! (`malloc_trim(0)`); recovery first moves each leaf into an allocation of its exact
//! length (which fills the holes the temporaries left), so few pages stay half used.
//! Measured with `scale` (random 16-byte keys, 100-byte values): RSS growth per key
//! after a reopen went from 68 bytes to 40 at 1M keys (41 after writing the same store),
//! and is 38 at 10M (40 after writing).
//!
//! This is the crate's one `unsafe` call, isolated here. Its invariants: `malloc_trim`
//! takes no pointer and has no precondition (it is safe to call at any time from any
//! thread; it takes the allocator's own locks); it only releases memory that is free,
//! so no live allocation is touched. With another global allocator (jemalloc,
//! mimalloc) it trims glibc's mostly unused heap and costs next to nothing. On targets
//! other than Linux with glibc it is not called.

/// Returns free heap pages to the operating system, where the allocator is glibc's.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    {
        unsafe extern "C" {
            /// glibc: releases free memory at the top of the heap and every free
            /// page inside it; `pad` bytes are left at the top. Returns 1 if any
            /// memory was released.
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: see the module docs; no pointer, no precondition.
        unsafe {
            malloc_trim(0);
        }
    }
}
