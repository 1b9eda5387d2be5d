//! The `qcheck` binary: parse arguments, run the command, print the error, map the exit code.
//! Exit codes: 0 all expectations hold, 1 an expectation failed, 2 usage, input or environment error,
//! 130 interrupted (SIGINT), 143 terminated (SIGTERM): see [`qcheck::interrupt`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like any Unix filter, die quietly when the reader goes away (`qcheck list | head`) instead of
    // panicking on a broken pipe; Rust ignores SIGPIPE by default.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = qcheck::cli::Cli::parse();
    if let Err(err) = qcheck::interrupt::install() {
        eprintln!("qcheck: error: cannot install the SIGINT/SIGTERM handler: {err}");
        return ExitCode::from(2);
    }
    let result = qcheck::cli::run(&cli);
    // After Ctrl-C the cancelled query fails here; the signal thread reports and exits (130/143).
    if qcheck::interrupt::interrupted() {
        qcheck::interrupt::wait_for_exit();
    }
    match result {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            eprintln!("qcheck: error: {err}");
            ExitCode::from(2)
        }
    }
}
