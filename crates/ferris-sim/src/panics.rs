//! Panics in the engine's background threads.
//!
//! `catch_unwind` around the workload catches a panic in the workload's own thread, but
//! a flush or compaction thread that panics just dies: `Db::close` logs it and goes on. So
//! the harness installs a panic hook (once per process, chained to the one before it) that
//! records every panic in a thread whose name starts with `ferris-`, with the thread's
//! id; a seed claims the panics of the threads that used its file system.

use std::panic::PanicHookInfo;
use std::sync::{Mutex, Once, PoisonError};
use std::thread::{self, ThreadId};

/// A recorded panic.
#[derive(Debug, Clone)]
pub(crate) struct BackgroundPanic {
    pub(crate) thread: ThreadId,
    pub(crate) name: String,
    pub(crate) message: String,
}

static PANICS: Mutex<Vec<BackgroundPanic>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs the hook, the first time only.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let current = thread::current();
            if let Some(name) = current.name().filter(|n| n.starts_with("ferris-")) {
                PANICS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(BackgroundPanic {
                        thread: current.id(),
                        name: name.to_string(),
                        message: describe(info),
                    });
            }
            previous(info);
        }));
    });
}

/// How many panics have been recorded so far: a mark for [`since`].
pub(crate) fn mark() -> usize {
    PANICS.lock().unwrap_or_else(PoisonError::into_inner).len()
}

/// The panics recorded after `mark`.
pub(crate) fn since(mark: usize) -> Vec<BackgroundPanic> {
    let panics = PANICS.lock().unwrap_or_else(PoisonError::into_inner);
    panics.get(mark..).unwrap_or_default().to_vec()
}

/// The message and place of a panic.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("{}{location}", payload_message(info.payload()))
}

/// The message of a panic payload, as `catch_unwind` or the hook gets it.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No test in this binary runs a seed, so this panic is blamed on none.
    #[test]
    fn panics_in_engine_threads_are_recorded_with_their_thread() {
        install();
        let mark = mark();
        let handle = thread::Builder::new()
            .name("ferris-test-panic".into())
            .spawn(|| panic!("on purpose"))
            .unwrap();
        let id = handle.thread().id();
        assert!(handle.join().is_err());
        let panics = since(mark);
        let p = panics.iter().find(|p| p.thread == id).expect("recorded");
        assert_eq!(p.name, "ferris-test-panic");
        assert!(p.message.starts_with("on purpose at "), "{}", p.message);
    }
}
