//! The harness check: does qcheck's timing loop distort what it measures? One query with fixed
//! parameters is timed by qcheck ([`super::Runner::time`]) and by `pgbench -n -M prepared` on the same server,
//! data and `plan_cache_mode` (through PGOPTIONS), as the same identity (running as a role: `-c role=…
//! -c app.tenant_id=…` in PGOPTIONS, so pgbench prepares and runs the statement under row-level
//! security as qcheck does), and the report shows both and their ratio.
//!
//! pgbench is the reference because it is PostgreSQL's own client-side benchmark, written in C on
//! libpq: with `-M prepared` it parses the statement once and then sends Bind/Execute/Sync per
//! transaction, binding `-D name=value` variables as text parameters. Its per-transaction log
//! (`-l`) gives every latency, so both sides are summarised the same way, after the same warm-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use postgres::config::Host;

use crate::analysis::Params;
use crate::catalog::Query;
use crate::error::{Error, IoContext, Result};
use crate::interrupt::{self, ChildGuard};
use crate::plan::Mode;

/// One pgbench run's latencies (ms, in order, warm-up dropped) and how to repeat it.
#[derive(Debug, Clone)]
pub struct PgbenchRun {
    /// Per-transaction latencies in milliseconds, warm-up runs dropped, in run order.
    pub samples_ms: Vec<f64>,
    /// The pgbench command line as a reader would rerun it (script by file name, no transaction log).
    pub command: String,
}

/// The pgbench next to the server binaries, if there is one.
pub fn find(bin_dir: Option<&Path>) -> Option<PathBuf> {
    let bin = crate::cluster::PgBin::locate(bin_dir).ok()?;
    let path = bin.program("pgbench");
    path.is_file().then_some(path)
}

/// A value in PGOPTIONS' `-c name=value`: spaces and backslashes escaped with a backslash, as the
/// server splits the options string.
fn options_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\\' || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// pgbench variable names: the parameter's name when it is an identifier, else `pN`.
fn variable(query: &Query, index: usize) -> String {
    match query.params.get(index) {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            n.clone()
        }
        _ => format!("p{}", index + 1),
    }
}

/// The query as a pgbench script: `$n` placeholders (outside literals, quoted identifiers and
/// comments, as the SQL lexer sees them) become `:name` variables, and the statement ends with `;`.
pub fn script(query: &Query) -> String {
    let mut out = crate::sql::replace_placeholders(&query.sql, |n| {
        format!(":{}", variable(query, n.saturating_sub(1)))
    });
    out.push_str(";\n");
    out
}

/// Runs pgbench: `warmup + runs` transactions on one connection, the first `warmup` discarded.
/// `server` is the connection, its TLS settings (passed as libpq's PGSSL* variables) and who the
/// query runs as.
pub fn run(
    pgbench: &Path,
    server: (&postgres::Config, &crate::tls::TlsSettings, &super::RunAs),
    query: &Query,
    params: &Params,
    mode: Mode,
    warmup: usize,
    runs: usize,
) -> Result<PgbenchRun> {
    // The script and pgbench's per-transaction log live in a folder removed when `tmp` drops.
    let (cfg, tls, run_as) = server;
    let tmp = tempfile::Builder::new()
        .prefix("qcheck-pgbench-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let dir = tmp.path();
    let script_path = dir.join(format!("{}.sql", query.name));
    std::fs::write(&script_path, script(query)).at(&script_path)?;
    let mut args: Vec<String> = vec![
        "-n".into(),
        "-M".into(),
        "prepared".into(),
        "-c".into(),
        "1".into(),
        "-j".into(),
        "1".into(),
    ];
    args.extend(["-t".into(), (warmup + runs).to_string()]);
    for (i, value) in params.values.iter().enumerate() {
        let value = value
            .as_deref()
            .ok_or_else(|| super::query_error(query, "pgbench cannot bind a NULL parameter"))?;
        args.extend(["-D".into(), format!("{}={value}", variable(query, i))]);
    }
    args.extend(["-f".into(), script_path.display().to_string()]);
    args.extend([
        "-l".into(),
        format!("--log-prefix={}", dir.join("log").display()),
    ]);
    if let Some(host) = cfg.get_hosts().first() {
        args.extend([
            "-h".into(),
            match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            },
        ]);
    }
    if let Some(port) = cfg.get_ports().first() {
        args.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = cfg.get_user() {
        args.extend(["-U".into(), user.to_string()]);
    }
    if let Some(db) = cfg.get_dbname() {
        args.push(db.to_string());
    }
    let mut options = format!("-c plan_cache_mode={}", mode.plan_cache_mode());
    if let Some(role) = &run_as.role {
        // The role for the whole session, so pgbench's PREPARE runs under it too.
        options.push_str(&format!(" -c role={}", options_value(role)));
        if let Some(tenant) = &params.tenant {
            options.push_str(&format!(" -c app.tenant_id={}", options_value(tenant)));
        }
    }
    if let Some(user_options) = cfg.get_options() {
        options = format!("{user_options} {options}");
    }
    let mut cmd = Command::new(pgbench);
    cmd.args(&args).env("PGOPTIONS", &options);
    cmd.env("PGSSLMODE", tls.mode.as_str());
    for (var, path) in [
        ("PGSSLROOTCERT", &tls.root_cert),
        ("PGSSLCERT", &tls.cert),
        ("PGSSLKEY", &tls.key),
    ] {
        if let Some(path) = path {
            cmd.env(var, path);
        }
    }
    if let Some(pw) = cfg.get_password() {
        cmd.env("PGPASSWORD", String::from_utf8_lossy(pw).into_owned());
    }
    // Shown as a reader would rerun it: the script by its file name (the report prints it), without
    // the per-transaction log qcheck reads.
    let script_arg = script_path.display().to_string();
    let script_name = format!("{}.sql", query.name);
    let shown = format!(
        "PGOPTIONS='{options}' pgbench {}",
        args.iter()
            .filter(|a| *a != "-l" && !a.starts_with("--log-prefix="))
            .map(|a| if *a == script_arg { &script_name } else { a })
            .map(|a| if a.contains([' ', '\'']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    // A name of its own, so that Ctrl-C/SIGTERM can cancel its server-side query once it is killed
    // (see crate::interrupt).
    let name = format!("qcheck-pgbench-{}", std::process::id());
    cmd.env("PGAPPNAME", &name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_error = |source| Error::Spawn {
        command: shown.clone(),
        source,
    };
    let child = cmd.spawn().map_err(spawn_error)?;
    let _registered = ChildGuard::register(interrupt::Child {
        pid: child.id(),
        server: Some((cfg.clone(), tls.clone(), name)),
        scratch: Some(dir.to_path_buf()),
    });
    let out = child.wait_with_output().map_err(spawn_error)?;
    if !out.status.success() {
        return Err(Error::Command {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let mut micros = Vec::with_capacity(warmup + runs);
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("log."))
        {
            micros.extend(parse_log(&std::fs::read_to_string(&path).at(&path)?));
        }
    }
    if micros.len() < warmup + runs {
        return Err(Error::Command {
            command: shown,
            status: "incomplete".into(),
            stderr: format!(
                "the transaction log holds {} of {} transactions",
                micros.len(),
                warmup + runs
            ),
        });
    }
    let samples_ms = micros[warmup..].iter().map(|us| *us as f64 / 1e3).collect();
    Ok(PgbenchRun {
        samples_ms,
        command: shown,
    })
}

/// Per-transaction latencies (µs) from the log, `client_id transaction_no time_us script_no epoch
/// epoch_us` per line, in order.
///
/// pgbench's own `time_us` is not trusted alone: it reads the clock lazily, once per pass of its
/// event loop, so a transaction that completes within one pass (a 30 µs generic plan on a local
/// socket) is logged as 0 µs. With one client and no rate limit the transactions run back to back,
/// so the distance between two completion stamps (`epoch`, `epoch_us`) is the later transaction's
/// latency plus pgbench's own per-transaction overhead; the larger of the two readings is used.
pub fn parse_log(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut previous_end: Option<u64> = None;
    for line in text.lines() {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [_, _, logged, _, epoch, epoch_us, ..] = fields[..] else {
            continue;
        };
        let end = epoch.saturating_mul(1_000_000).saturating_add(epoch_us);
        let measured = previous_end.map_or(logged, |p| end.saturating_sub(p));
        out.push(logged.max(measured));
        previous_end = Some(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_values_escape_spaces_and_backslashes() {
        assert_eq!(options_value("qcheck_app"), "qcheck_app");
        assert_eq!(options_value("my app\\x"), "my\\ app\\\\x");
    }

    #[test]
    fn placeholders_become_variables_outside_literals_and_comments() {
        let text = "-- name: q\n-- params: provider_id, day <- SELECT 1, 2\n\
                    SELECT '$1' AS lit, \"$2\" FROM t -- $1 here\n WHERE a = $1 AND b >= $2::timestamptz AND c < $2::timestamptz + interval '1 day'";
        let q = crate::catalog::parse(Path::new("q.sql"), text).unwrap();
        assert_eq!(
            script(&q),
            "SELECT '$1' AS lit, \"$2\" FROM t -- $1 here\n WHERE a = :provider_id AND b >= :day::timestamptz \
             AND c < :day::timestamptz + interval '1 day';\n"
        );
    }

    #[test]
    fn reads_the_transaction_log() {
        // The first transaction as logged; later ones the larger of the logged time and the gap
        // between completions (here 98 µs logged, 105 µs apart).
        assert_eq!(
            parse_log("0 0 153 0 1700000000 12345\n0 1 98 0 1700000000 12450\n"),
            vec![153, 105]
        );
        // pgbench 15 logs 0 µs for a transaction that finished within one pass of its event loop
        // (seen on a 30 µs generic plan); the completion stamps still tell.
        assert_eq!(
            parse_log(
                "0 1 9207 0 1795948399 254846\n0 2 0 0 1795948399 254964\n0 3 0 0 1795948400 1\n"
            ),
            vec![9207, 118, 745_037]
        );
    }
}
