//! The global allocator (mimalloc) and how it hands freed memory back to the OS.
//!
//! mimalloc 3's defaults keep freed pages for a second before purging them, back its
//! arenas with transparent huge pages and commit them eagerly, so a process's resident
//! set stays near its highest heap long after. A push into a 1M-row table peaked at
//! 375 MiB resident with a 90 MiB heap that way. Every command turns huge pages and
//! eager arena commits off; the sync commands (push, pull, serve and the table
//! maintenance), whose memory is budgeted, also purge freed pages at once (at some
//! system time: `madvise` calls), which brought that push to about 200 MiB.
//! `MIMALLOC_*` environment variables still override these.
//!
//! Without the `mimalloc` feature the system allocator is used, so that heap profilers
//! that hook `malloc` (heaptrack, valgrind) see every allocation.

use libmimalloc_sys::mi_option_t;
use std::ffi::{c_char, c_int, CStr};

/// mimalloc keeps the large per-batch buffers out of fresh mmap'd pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Indices in mimalloc 3's `mi_option_e` (include/mimalloc.h): libmimalloc-sys names only
// some of them. A test checks each by its default value.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DELAY: mi_option_t = 15;
const ALLOW_THP: mi_option_t = 43;

/// How soon freed memory is returned to the OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purge {
    /// mimalloc's own delay (batch commands, where the madvise calls would cost time).
    Deferred,
    /// At once (long-running and memory-budgeted commands).
    Immediate,
}

/// The purge of the command named by the first argument.
fn purge_for(command: Option<&[u8]>) -> Purge {
    match command {
        Some(b"push" | b"pull" | b"serve" | b"optimize" | b"vacuum" | b"history") => Purge::Immediate,
        _ => Purge::Deferred,
    }
}

/// Sets the options as the program loads, before `main` and before the Rust runtime's
/// first allocation: mimalloc reserves its first arena then, and huge pages and eager
/// commits are settings of an arena. glibc calls `.init_array` functions with the
/// program's arguments and environment, so the command is known here. Nothing here
/// allocates, and no other thread exists yet (mimalloc's option setters are not thread
/// safe).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_AT_LOAD: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = tune_at_load;

extern "C" fn tune_at_load(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
    // SAFETY: glibc passes argv with argc entries and a NULL-terminated envp, all
    // NUL-terminated strings (either may be NULL elsewhere: checked).
    let command = unsafe { (argc > 1 && !argv.is_null()).then(|| *argv.add(1)) };
    let command = command.filter(|a| !a.is_null()).map(|a| unsafe { CStr::from_ptr(a) }.to_bytes());
    let in_env = |name: &[u8]| unsafe { env_has(envp, name) };
    tune(purge_for(command), in_env);
}

/// Sets each option the environment (`in_env(MIMALLOC_<NAME>)`) does not.
fn tune(purge: Purge, in_env: impl Fn(&[u8]) -> bool) {
    let set = |option, name: &[u8], value| {
        if !in_env(name) {
            // SAFETY: single-threaded at load; the indices are mimalloc 3's (tested).
            unsafe { libmimalloc_sys::mi_option_set(option, value) }
        }
    };
    set(ALLOW_THP, b"MIMALLOC_ALLOW_THP", 0);
    set(ARENA_EAGER_COMMIT, b"MIMALLOC_ARENA_EAGER_COMMIT", 0);
    if purge == Purge::Immediate {
        set(PURGE_DELAY, b"MIMALLOC_PURGE_DELAY", 0);
    }
}

/// Whether the NULL-terminated `envp` has a variable `name` (without allocating).
///
/// # Safety
/// `envp` is NULL or a NULL-terminated array of NUL-terminated strings.
unsafe fn env_has(envp: *const *const c_char, name: &[u8]) -> bool {
    if envp.is_null() {
        return false;
    }
    let mut at = envp;
    loop {
        let var = unsafe { *at };
        if var.is_null() {
            return false;
        }
        let var = unsafe { CStr::from_ptr(var) }.to_bytes();
        if var.len() > name.len() && var.starts_with(name) && var[name.len()] == b'=' {
            return true;
        }
        at = unsafe { at.add(1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    /// The option indices are mimalloc 3's: each one's default is the documented one (a
    /// different mimalloc would move them, and `tune` would set other options). The test
    /// binary is loaded with its own arguments and the environment may set some: only
    /// the others are checked.
    #[test]
    fn the_option_indices_name_the_options_tuned() {
        let get = |o| unsafe { libmimalloc_sys::mi_option_get(o) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // The test binary's first argument (a test filter) picked the purge at load.
            let first = std::env::args().nth(1);
            let purge = purge_for(first.as_deref().map(str::as_bytes));
            assert_eq!(get(PURGE_DELAY), if purge == Purge::Immediate { 0 } else { 1000 }, "purge_delay");
        }
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!(get(ALLOW_THP), 0, "allow_thp: turned off at load");
        }
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(get(ARENA_EAGER_COMMIT), 0, "arena_eager_commit: turned off at load");
        }
        // and their defaults are what the indices say they are
        for (o, default) in [(PURGE_DELAY, 1000), (ALLOW_THP, 1), (ARENA_EAGER_COMMIT, 2)] {
            let before = get(o);
            unsafe { libmimalloc_sys::mi_option_set(o, default) };
            assert_eq!(get(o), default);
            unsafe { libmimalloc_sys::mi_option_set(o, before) };
        }
    }

    #[test]
    fn sync_commands_purge_at_once() {
        assert_eq!(purge_for(Some(b"serve")), Purge::Immediate);
        assert_eq!(purge_for(Some(b"push")), Purge::Immediate);
        assert_eq!(purge_for(Some(b"convert")), Purge::Deferred);
        assert_eq!(purge_for(None), Purge::Deferred);
    }

    #[test]
    fn env_has_finds_whole_names_only() {
        let vars: Vec<CString> =
            ["A=1", "MIMALLOC_ALLOW_THP=0", "MIMALLOC_PURGE_DELAYX=1"].map(|v| CString::new(v).unwrap()).into();
        let mut ptrs: Vec<*const c_char> = vars.iter().map(|v| v.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        unsafe {
            assert!(env_has(ptrs.as_ptr(), b"MIMALLOC_ALLOW_THP"));
            assert!(!env_has(ptrs.as_ptr(), b"MIMALLOC_PURGE_DELAY"));
            assert!(!env_has(std::ptr::null(), b"A"));
        }
    }
}
