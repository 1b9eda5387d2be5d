//! `qcheck completions SHELL` and `qcheck man`: documentation generated from the same clap
//! definitions that parse the command line (clap_complete, clap_mangen), so they never drift.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, Outcome};
use crate::error::{IoContext, Result};

/// Writes the completion script of `shell` for the `qcheck` binary.
pub(super) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "qcheck", out);
}

/// The man page on stdout, or with `dir` one page per command (`qcheck.1`, `qcheck-check.1`, ...)
/// written there (the folder is created when missing).
pub(super) fn man(dir: Option<&Path>) -> Result<Outcome> {
    let cmd = Cli::command();
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .and_then(|()| out.flush())
                .at("standard output")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).at(dir)?;
            clap_mangen::generate_to(cmd, dir).at(dir)?;
            eprintln!("qcheck: man pages written to {}", dir.display());
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shell's script names every command.
    #[test]
    fn completions_cover_every_command() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::Elvish,
            clap_complete::Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            for command in ["check", "explain", "compare", "completions", "man"] {
                assert!(text.contains(command), "{shell}: {command}");
            }
        }
    }

    /// Every command's help ends with examples.
    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let name = format!("{path} {}", cmd.get_name());
            if cmd.get_name() != "help"
                && !cmd
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("Examples:"))
            {
                missing.push(name.clone());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no examples in --help of {missing:?}");
    }
}
