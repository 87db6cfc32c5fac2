//! The process's allocator, and how it keeps freed memory.
//!
//! **glibc's `malloc`**, the default, gives each thread that meets contention an
//! arena of its own, up to eight per core, and keeps what is freed in them for
//! reuse rather than returning it to the system. A service's threads (Tokio's
//! workers, blocking threads, a search index's writer and merge threads) then each
//! hold on to their peak: measured in `infra/bench/search`, about 100 MB of the
//! search service's memory at rest was freed memory kept in arenas. Two arenas keep
//! that small at a cost the benchmarks did not show.
//!
//! **mimalloc**, with the feature `mimalloc`, replaces it for a service whose
//! allocations are its bottleneck. Indexing makes millions of short-lived
//! allocations, and in `infra/bench/search` glibc's `malloc` and `free` were ~17 %
//! of the search service's CPU; with mimalloc indexing cost 10-34 % less CPU per
//! document. mimalloc returns freed memory to the system only after a delay (1 s
//! in this release); the kit sets it to none, because with a delay the search
//! service peaked higher: 297-319 MB at 100 ms against 270-289 MB at none, and
//! 363-391 MB at mimalloc's defaults (1 s, and transparent huge pages, which the
//! workspace builds it without).

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arenas glibc's `malloc` may use unless `MALLOC_ARENA_MAX` is set.
#[cfg(not(feature = "mimalloc"))]
pub const DEFAULT_MALLOC_ARENAS: i32 = 2;

/// Milliseconds mimalloc waits before it returns freed memory to the system,
/// unless `MIMALLOC_PURGE_DELAY` is set.
#[cfg(feature = "mimalloc")]
pub const DEFAULT_MIMALLOC_PURGE_DELAY_MS: std::ffi::c_long = 0;

/// `mi_option_purge_delay` in the `mimalloc.h` of the mimalloc that
/// `libmimalloc-sys` 0.1.49 builds (v3), which the crate does not name: it names
/// only the options that keep their number across mimalloc's releases. The
/// workspace pins that exact release, and a test below checks the number.
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets up the allocator: with glibc, caps its arenas at [`DEFAULT_MALLOC_ARENAS`]
/// unless the operator set `MALLOC_ARENA_MAX` (which glibc has then applied
/// already); with mimalloc, sets its purge delay to
/// [`DEFAULT_MIMALLOC_PURGE_DELAY_MS`] unless `MIMALLOC_PURGE_DELAY` is set
/// (mimalloc reads its `MIMALLOC_*` variables itself). Call it first thing in
/// `main`, before threads start; [`crate::cli::main`] does. With glibc, does
/// nothing where the C library is not glibc.
pub fn configure_allocator() {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` stores an option's value in mimalloc's table of
        // options; no other thread runs yet, and the number is that option's
        // (checked by a test).
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, DEFAULT_MIMALLOC_PURGE_DELAY_MS);
        }
    }
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a parameter of the allocator, which glibc
        // guards with its own lock; it touches no memory of ours.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, DEFAULT_MALLOC_ARENAS);
        }
    }
}

/// Hands memory that was freed back to the system, for a service right after a
/// burst of large, short-lived allocations. glibc keeps freed memory for reuse, so
/// without this (`malloc_trim`) the process stays at its peak: the search service
/// calls it after each index commit (`infra/bench/search`: with glibc, 211 MB of
/// anonymous memory at rest after indexing without it, 94 MB with it); it takes
/// the allocator's locks while it walks the free memory. With mimalloc it collects
/// the calling thread's free pages and returns what every thread freed that is
/// still waiting for its purge delay (`mi_collect`). With glibc, does nothing where
/// the C library is not glibc.
pub fn release_freed() {
    #[cfg(feature = "mimalloc")]
    // SAFETY: `mi_collect` only frees pages of mimalloc's own heaps that hold no
    // live allocation; no memory in use is touched.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages of the allocator's own heaps
    // to the system, under the allocator's locks; no memory in use is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("skipped: MIMALLOC_PURGE_DELAY is set, so the default cannot be read");
            return;
        }
        // 1000 ms is this release's default purge delay and the default of no
        // other option, so the number names the purge delay. Nothing in this test
        // process calls `configure_allocator`, which would change it.
        // SAFETY: reads one value of mimalloc's table of options.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            default, 1000,
            "option {MI_OPTION_PURGE_DELAY} is not the purge delay"
        );
    }
}
