//! Makes a stack overflow a reported crash with a saved input.
//!
//! libFuzzer installs its SIGSEGV/SIGBUS handler without `SA_ONSTACK`, and without a
//! sanitizer nothing gives the thread an alternate signal stack. A stack overflow then
//! runs the handler on the exhausted stack, the process dies of a second fault, and
//! neither the "deadly signal" report nor the crash file is written. [`arm`] gives the
//! fuzzing thread an alternate stack and re-installs libFuzzer's handlers to run on it.
//! It must run after libFuzzer has installed them (the first call of the target body;
//! an `init` block runs before that).

use std::sync::Once;

/// Size of the alternate stack: libFuzzer's crash path formats a report and writes the
/// input to a file, which takes more than `SIGSTKSZ`.
const ALT_STACK: usize = 1 << 20;

/// Arms the alternate stack once per process; later calls do nothing.
pub fn arm() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the stack is leaked (it must outlive the thread); `sigaltstack` and
        // `sigaction` get valid pointers to initialised structures. Handlers are only
        // re-installed with the flags they had plus `SA_ONSTACK`.
        unsafe {
            let stack: &'static mut [u8] = Box::leak(vec![0u8; ALT_STACK].into_boxed_slice());
            let ss = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: stack.len() };
            assert_eq!(libc::sigaltstack(&ss, std::ptr::null_mut()), 0, "sigaltstack");
            for sig in [libc::SIGSEGV, libc::SIGBUS] {
                let mut act: libc::sigaction = std::mem::zeroed();
                assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut act), 0, "sigaction (read)");
                if act.sa_sigaction == libc::SIG_DFL || act.sa_sigaction == libc::SIG_IGN {
                    continue; // run with -handle_segv=0: nothing to move
                }
                act.sa_flags |= libc::SA_ONSTACK;
                assert_eq!(libc::sigaction(sig, &act, std::ptr::null_mut()), 0, "sigaction (write)");
            }
        }
    });
}
