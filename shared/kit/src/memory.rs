//! The allocator's arenas. glibc's `malloc` gives each thread that meets
//! contention an arena of its own, up to eight per core, and keeps what is freed
//! in them for reuse rather than returning it to the system. A service's threads
//! (Tokio's workers, blocking threads, a search index's writer and merge threads)
//! then each hold on to their peak: measured in `infra/bench/search`, about 100 MB
//! of the search service's memory at rest was freed memory kept in arenas.
//! Two arenas keep that small at a cost the benchmarks did not show.

/// Arenas a service's allocator may use unless `MALLOC_ARENA_MAX` is set.
pub const DEFAULT_MALLOC_ARENAS: i32 = 2;

/// Caps the allocator's arenas at [`DEFAULT_MALLOC_ARENAS`], unless the operator set
/// `MALLOC_ARENA_MAX` (which glibc has then applied already). Call it first thing
/// in `main`, before threads start; [`crate::cli::main`] does. Does nothing where
/// the C library is not glibc.
pub fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a parameter of the allocator, which glibc
        // guards with its own lock; it touches no memory of ours.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, DEFAULT_MALLOC_ARENAS);
        }
    }
}

/// Hands memory that was freed back to the system (glibc's `malloc_trim`), for a
/// service right after a burst of large, short-lived allocations: glibc keeps
/// freed memory for reuse, so without this the process stays at its peak. The
/// search service calls it after each index commit (`infra/bench/search`: 211 MB
/// of anonymous memory at rest after indexing without it, 94 MB with it). Takes
/// the allocator's locks while it walks the free memory. Does nothing where the C
/// library is not glibc.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages of the allocator's own heaps
    // to the system, under the allocator's locks; no memory in use is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}
