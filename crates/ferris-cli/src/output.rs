//! Standard output that survives its reader leaving.
//!
//! `println!` panics when it cannot write, and the commonest reason is harmless: the
//! command's output is piped into `head` or a pager that quit early, and the pipe is
//! closed (`EPIPE`; Rust ignores the `SIGPIPE` that would otherwise end the process). The
//! reader has what it wanted, so the command stops there, quietly, with the exit status
//! a shell reports for a process that `SIGPIPE` ended (141, 128 + 13), as the Unix tools
//! end. Not 0: the command did not finish, and `verify` cut short must not read as
//! "intact". Any other write error is reported and exits with 2.
//!
//! Stopping here skips the destructors of whatever the command holds open. That is safe
//! for a database: a command prints only after its write is durable, and the engine is
//! built to be cut off at any point.

use std::fmt;
use std::io::{self, Write};

/// The exit status when the reader of standard output has gone: a shell's status for a
/// process ended by `SIGPIPE` (signal 13).
pub(crate) const EXIT_BROKEN_PIPE: i32 = 128 + 13;

/// Writes `args` and a newline to standard output; see the [module docs](self).
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"));
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(EXIT_BROKEN_PIPE),
        Err(e) => {
            eprintln!("ferris: writing to standard output: {e}");
            std::process::exit(2);
        }
    }
}
