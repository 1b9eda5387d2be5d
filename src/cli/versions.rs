//! `qcheck check` on several PostgreSQL versions: `--pg-bin-dir` given once per version.
//!
//! Each major version has its own embedded cluster under the home (`HOME/pgNN`, see
//! [`crate::cluster`]), so the same dataset (profile, scale, seed, strategy) is seeded on each —
//! deterministically, so the rows are the same (the dataset digest says so, and a comparison of
//! different rows carries a note) — and the queries are checked on each in turn, one server
//! running at a time, in version order whatever the order of the flags. Each version's plans are
//! compared with the previous version's (15 → 17 → 18: each step of an upgrade path on its own)
//! through the baseline code (signatures, thresholds, tree diff), exactly as `qcheck diff` of two
//! baselines would compare them.
//!
//! Baselines: `--save-baseline FILE` writes one file holding every version's plans, keyed by major
//! version (see [`crate::baseline::BaselineFile`]); `--baseline FILE` compares each version with
//! its own entry of such a file — a version the file does not hold is an error (exit 2) before any
//! server starts, so a version nobody saved plans for never passes unchecked — or, with a
//! single-server file, every version with that one baseline (the upgrade flow).
//!
//! The exit code is the worst over the versions: 1 when an expectation failed on any version (or,
//! with `--baseline`, a plan changed against the baseline on any version), 2 on any error. Plan
//! differences between the versions are reported, not judged: a plan that changed across an
//! upgrade and still meets its expectations is news, not a failure. To make such a change fail,
//! save a baseline on the old version and check the new one against it (`--baseline`), which
//! works here per version too.

use std::collections::BTreeMap;

use super::check::{CheckArgs, CheckRun, open_on, run_checks};
use super::{Command, Global, Outcome};
use crate::baseline::{Baseline, BaselineFile};
use crate::cluster::Cluster;
use crate::db::{Target, TargetOptions};
use crate::error::{Error, IoContext, Result};
use crate::report::Format;
use crate::report::versions::{VersionRun, render};

/// Refuses several `--pg-bin-dir` for the commands that run on one server (all but `check` and
/// `compare`).
pub(super) fn refuse_several(g: &Global, command: &Command) -> Result<()> {
    let n = g.pg_bin_dir.len();
    if n < 2 {
        return Ok(());
    }
    if let Some(workers) = g.citus_workers {
        return Err(Error::Usage(format!(
            "--pg-bin-dir is given {n} times and --citus-workers {workers}: the Citus cluster runs \
             on one PostgreSQL version (the one Citus is built for); give one --pg-bin-dir"
        )));
    }
    if matches!(command, Command::Check(_) | Command::Compare(_)) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--pg-bin-dir is given {n} times: only `qcheck check` and `qcheck compare` run on several \
         PostgreSQL versions; give this command one"
    )))
}

/// The embedded clusters of the `--pg-bin-dir` folders, in order: located (and their versions
/// read) before any server starts, so a wrong folder, two folders of one major version or a
/// server named instead fail first.
pub(super) fn clusters(g: &Global) -> Result<Vec<Cluster>> {
    if let Target::Server(..) = Target::resolve(&g.target_options())? {
        return Err(Error::Usage(
            "several --pg-bin-dir check the embedded clusters of several PostgreSQL versions, \
             but a server is named (--database-url, DATABASE_URL or a PG* variable such as \
             PGHOST): use one or the other"
                .into(),
        ));
    }
    let mut clusters: Vec<Cluster> = Vec::with_capacity(g.pg_bin_dir.len());
    for dir in &g.pg_bin_dir {
        let opts = TargetOptions {
            pg_bin_dir: Some(dir.clone()),
            ..g.target_options()
        };
        let cluster = Target::embedded_cluster(&opts)?;
        if let Some(other) = clusters.iter().find(|c| c.bin.major == cluster.bin.major) {
            return Err(Error::Usage(format!(
                "--pg-bin-dir {} and {} are both PostgreSQL {} ({} and {}): the home keeps one \
                 cluster per major version, so give one folder per major version",
                other.bin.dir.display(),
                dir.display(),
                cluster.bin.major,
                other.bin.version,
                cluster.bin.version
            )));
        }
        clusters.push(cluster);
    }
    Ok(clusters)
}

/// One version's run, with how it is named.
struct Version {
    /// The binaries' version, e.g. `18.4`.
    number: String,
    /// `PostgreSQL 18.4`.
    label: String,
    bin_dir: String,
    run: CheckRun,
}

/// `check` with `--pg-bin-dir` given more than once.
pub(super) fn check(g: &Global, args: &CheckArgs) -> Result<Outcome> {
    if g.format.verdicts_only() {
        return Err(Error::Usage(format!(
            "--format {} reports one server's verdicts, and --pg-bin-dir is given {} times: run \
             one check per version for CI annotations, or use table, json or markdown here",
            g.format,
            g.pg_bin_dir.len()
        )));
    }
    let catalog = args.source.catalog()?;
    let selected = catalog.select(&args.names)?;
    args.dataset.request()?;
    let mut clusters = clusters(g)?;
    clusters.sort_by_key(|c| c.bin.major);
    if let Some(path) = &args.baseline.baseline {
        let file = super::diff::read_baseline(path)?;
        for cluster in &clusters {
            super::diff::require_version(path, &file, cluster.bin.major)?;
        }
    }
    // Each version is compared with the file's entry for it; the file is written once, at the end.
    let per_version = super::diff::BaselineArgs {
        save_baseline: None,
        ..args.baseline.clone()
    };
    let mut versions = Vec::with_capacity(clusters.len());
    for cluster in clusters {
        let cluster_version = cluster.bin.version.clone();
        let label = format!("PostgreSQL {cluster_version}");
        let bin_dir = cluster.bin.dir.display().to_string();
        if g.format != Format::Json {
            eprintln!("qcheck: {label} ({bin_dir})");
        }
        // Read per version: each comparison records the identity of its own run.
        let mut hooks = super::diff::Hooks::read(&per_version)?;
        let (session, lock) = open_on(g, &Target::Embedded(cluster), &args.dataset, &args.source)?;
        let run = run_checks(session, lock, args, &selected, &mut hooks)?;
        versions.push(Version {
            number: cluster_version,
            label,
            bin_dir,
            run,
        });
    }
    let baselines = baselines(&versions);
    if let Some(path) = &args.baseline.save_baseline {
        let by_major: BTreeMap<u32, Baseline> = versions
            .iter()
            .map(|v| v.run.server.major)
            .zip(baselines.iter().cloned())
            .collect();
        std::fs::write(path, BaselineFile::versions_to_json(&by_major)).at(path)?;
        let majors: Vec<String> = by_major.keys().map(u32::to_string).collect();
        eprintln!(
            "qcheck: baseline written to {} (PostgreSQL {}; {} plans each)",
            path.display(),
            majors.join(", "),
            baselines.first().map_or(0, Baseline::plan_count)
        );
    }
    let diffs = diffs(&versions, &baselines, args);
    if g.format == Format::Json {
        print!("{}", json(&versions, &diffs, args));
    } else {
        let runs: Vec<VersionRun> = versions
            .iter()
            .map(|v| VersionRun {
                label: &v.label,
                bin_dir: &v.bin_dir,
                checks: &v.run.results,
                findings: &v.run.findings,
                baseline: v.run.comparison.as_ref(),
            })
            .collect();
        print!("{}", render(&runs, &diffs, g.format, g.layout().color));
    }
    Ok(if versions.iter().all(|v| v.run.passed()) {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}

/// Each version's plans as a baseline, in version order.
fn baselines(versions: &[Version]) -> Vec<Baseline> {
    versions
        .iter()
        .map(|v| {
            Baseline::capture(
                &v.run.results,
                &v.run.partitions,
                v.run.dataset.as_ref().map(super::diff::identity_of),
                Some(v.run.server.clone()),
            )
        })
        .collect()
}

/// Each version's plans compared with the previous version's (`baselines[i]` is `versions[i]`'s).
fn diffs(
    versions: &[Version],
    baselines: &[Baseline],
    args: &CheckArgs,
) -> Vec<crate::baseline::Comparison> {
    let thresholds = args.baseline.thresholds.thresholds();
    baselines
        .windows(2)
        .zip(versions.windows(2))
        .map(|(b, v)| {
            super::diff::compare_sides(&b[0], &b[1], &v[0].label, &v[1].label, thresholds)
        })
        .collect()
}

/// One version in `check --format json`: the single-version document with the version.
#[derive(serde::Serialize)]
struct VersionDocument<'a> {
    /// `server_version`, e.g. `15.20 (Debian 15.20-0+deb12u1)`.
    version: &'a str,
    major: u32,
    bin_dir: &'a str,
    #[serde(flatten)]
    check: super::check::CheckDocument<'a>,
}

/// A version's plans compared with the previous version's.
#[derive(serde::Serialize)]
struct VersionDiff<'a> {
    from: &'a str,
    to: &'a str,
    changed_plans: usize,
    compared_plans: usize,
    /// Always false: differences between versions do not make `passed` false.
    judged: bool,
    /// The comparison, as `qcheck diff --format json` prints it (its `passed` means "no plan
    /// changed").
    comparison: &'a crate::baseline::Comparison,
}

/// `check --format json` on several versions.
fn json(versions: &[Version], diffs: &[crate::baseline::Comparison], args: &CheckArgs) -> String {
    #[derive(serde::Serialize)]
    struct Document<'a> {
        passed: bool,
        versions: Vec<VersionDocument<'a>>,
        version_diffs: Vec<VersionDiff<'a>>,
    }
    let doc = Document {
        passed: versions.iter().all(|v| v.run.passed()),
        versions: versions
            .iter()
            .map(|v| VersionDocument {
                version: &v.run.server.version,
                major: v.run.server.major,
                bin_dir: &v.bin_dir,
                check: v.run.document(args),
            })
            .collect(),
        version_diffs: diffs
            .iter()
            .zip(versions.windows(2))
            .map(|(c, v)| {
                let (changed_plans, compared_plans) = c.changed_plans();
                VersionDiff {
                    from: &v[0].number,
                    to: &v[1].number,
                    changed_plans,
                    compared_plans,
                    judged: false,
                    comparison: c,
                }
            })
            .collect(),
    };
    crate::report::json::document(doc)
}
