//! The stamp of a report: PostgreSQL version, the server settings that matter, the machine, qcheck's
//! revision. A latency or a WAL figure means nothing without them: shared_buffers decides what is
//! cached, random_page_cost and effective_cache_size what the planner picks, plan_cache_mode which
//! plan runs, full_page_writes and wal_compression what a write costs.

use postgres::Client;

use super::model::{Machine, Setting, Stamp};
use crate::error::{DbContext, Result};

/// Settings every report prints, in this order.
pub const SETTINGS: &[&str] = &[
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "effective_io_concurrency",
    "default_statistics_target",
    "jit",
    "plan_cache_mode",
    "max_parallel_workers_per_gather",
    "enable_partition_pruning",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_compression",
    "wal_level",
    "checkpoint_timeout",
    "max_wal_size",
    "autovacuum",
    "huge_pages",
];

/// The qcheck build's git revision (see build.rs).
pub fn git_revision() -> &'static str {
    option_env!("QCHECK_GIT_REVISION").unwrap_or("unknown")
}

/// Reads the server's version and settings; describes this machine.
pub fn stamp(client: &mut Client, target: String, server_is_local: bool) -> Result<Stamp> {
    let version: String = client
        .query_one("SELECT current_setting('server_version')", &[])
        .db("reading the server version")?
        .get(0);
    let names: Vec<String> = SETTINGS.iter().map(ToString::to_string).collect();
    // Settings a server does not have (wal_compression's values changed in 15, for instance) are
    // simply absent: current_setting(name, true) would be NULL, pg_settings has no row.
    let rows = client
        .query(
            "SELECT name, current_setting(name), source FROM pg_settings
              WHERE name = ANY($1) ORDER BY array_position($1, name)",
            &[&names],
        )
        .db("reading the server settings")?;
    let settings = rows
        .iter()
        .map(|r| Setting {
            name: r.get(0),
            value: r.get(1),
            source: r.get(2),
        })
        .collect();
    Ok(Stamp {
        qcheck_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: git_revision().to_string(),
        generated_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        target,
        postgres_version: version,
        settings,
        machine: machine(server_is_local),
    })
}

/// Cores, memory and CPU model of this machine (Linux /proc; absent elsewhere).
pub fn machine(server_is_local: bool) -> Machine {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        memory_bytes: mem_total(&meminfo),
        cpu: cpu_model(&cpuinfo),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        server_is_local,
    }
}

/// `MemTotal:       24567890 kB` -> bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_files() {
        assert_eq!(
            mem_total("MemFree: 1 kB\nMemTotal:       2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
        assert_eq!(mem_total(""), None);
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
    }
}
