//! The `qcheck` binary: parse arguments, run the command, print the error, map the exit code.
//! Exit codes: 0 all expectations hold, 1 an expectation failed, 2 usage, input or environment error,
//! 130 interrupted (SIGINT), 143 terminated (SIGTERM): see [`qcheck::interrupt`].

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    // Like any Unix filter, die quietly when the reader goes away (`qcheck list | head`) instead of
    // panicking on a broken pipe; Rust ignores SIGPIPE by default.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match qcheck::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_error(&err),
    };
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

/// `--help` and `--version` print as clap prints them (exit 0); every other parse error is one line,
/// `qcheck: error: …`, like qcheck's own errors (exit 2), with clap's tips and a pointer to the help
/// of the command it concerns.
fn clap_error(err: &clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
    }
    eprintln!("qcheck: error: {}", one_line(&err.render().to_string()));
    ExitCode::from(2)
}

/// clap's rendered error on one line: the message, its tips and possible values joined with `; `,
/// the usage block replaced by `see `qcheck CMD --help``.
fn one_line(rendered: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut help = "qcheck --help".to_string();
    let mut in_usage = false;
    let mut continuing = false;
    for line in rendered.lines() {
        let trimmed = line.trim();
        if let Some(usage) = trimmed.strip_prefix("Usage:") {
            in_usage = true;
            // `qcheck check [OPTIONS]` -> `qcheck check --help`.
            let words: Vec<&str> = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            if !words.is_empty() {
                help = format!("{} --help", words.join(" "));
            }
            continue;
        }
        if trimmed.is_empty() {
            in_usage = false;
            continuing = false;
            continue;
        }
        if in_usage || trimmed.starts_with("For more information") {
            continue;
        }
        let text = trimmed.strip_prefix("error:").unwrap_or(trimmed).trim();
        // "the following required arguments were not provided:" continues on the indented lines
        // after it.
        match parts.last_mut() {
            Some(last) if continuing && line.starts_with(' ') => {
                last.push(' ');
                last.push_str(text);
            }
            _ => {
                continuing = text.ends_with(':');
                parts.push(text.to_string());
            }
        }
    }
    format!("{}; see `{help}`", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn clap_errors_read_as_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --query <QUERY>\n  \
                        --plan <FILE>\n\nUsage: qcheck explain --query <QUERY>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "the following required arguments were not provided: --query <QUERY> --plan <FILE>; \
             see `qcheck explain --help`"
        );
        let rendered = "error: unrecognized subcommand 'chek'\n\n  tip: a similar subcommand exists: 'check'\n\n\
                        Usage: qcheck [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "unrecognized subcommand 'chek'; tip: a similar subcommand exists: 'check'; see `qcheck --help`"
        );
    }
}
