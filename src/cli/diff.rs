//! Baselines on the command line: `qcheck diff A B`, and the `--save-baseline` / `--baseline`
//! hooks of `qcheck check` (reading and writing the files, the run's identity, the verdict).
//!
//! Why here and not in `check`: the baseline flow is one feature with one set of flags
//! ([`BaselineArgs`], [`ThresholdArgs`]); `check` calls [`Hooks`] at three points (before the
//! queries run, after, and when printing).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Global, Outcome};
use crate::analysis::QueryCheck;
use crate::baseline::{
    self, Baseline, BaselineFile, Comparison, DatasetIdentity, ServerIdentity, Threshold,
};
use crate::error::{DbContext, Error, IoContext, Result};
use crate::generate::DatasetMeta;
use crate::plan::{MAX_PLAN_FILE_BYTES, PartitionMap, Plan};
use crate::report::{self, Format};

/// The change thresholds (`check --baseline`, `diff`).
#[derive(Debug, Clone, Args)]
pub struct ThresholdArgs {
    /// A plan's shared buffers (hit + read) count as a change when they grow by more than FACTOR
    /// times and by more than N buffers (fewer buffers never do). Default 1.5x+10. With
    /// --baseline, and between the versions of a `check` given several --pg-bin-dir.
    #[arg(long, value_name = "FACTORx+N", value_parser = Threshold::parse)]
    pub buffers_threshold: Option<Threshold>,
    /// A plan node's rows (over all loops) count as a change when they move, either way, by more
    /// than FACTOR times and by more than N rows. Default 2x+10. With --baseline, and between
    /// the versions of a `check` given several --pg-bin-dir.
    #[arg(long, value_name = "FACTORx+N", value_parser = Threshold::parse)]
    pub rows_threshold: Option<Threshold>,
}

impl ThresholdArgs {
    /// The thresholds the flags ask for.
    pub(super) fn thresholds(&self) -> baseline::Thresholds {
        let default = baseline::Thresholds::default();
        baseline::Thresholds {
            buffers: self.buffers_threshold.unwrap_or(default.buffers),
            rows: self.rows_threshold.unwrap_or(default.rows),
        }
    }

    /// The flag given, if any (thresholds mean nothing without something to compare with).
    fn given(&self) -> Option<&'static str> {
        if self.buffers_threshold.is_some() {
            Some("--buffers-threshold")
        } else if self.rows_threshold.is_some() {
            Some("--rows-threshold")
        } else {
            None
        }
    }
}

/// `check`'s baseline flags.
#[derive(Debug, Clone, Args)]
pub struct BaselineArgs {
    /// Write every checked plan's signature (shape, tables, indexes, partitions, rows, buffers;
    /// per query and plan mode) to FILE as JSON meant to be committed, with the dataset and
    /// server it ran on.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Compare the plans with a baseline saved by --save-baseline: exit 1 when a plan's shape
    /// changed, or its buffers or rows moved beyond the thresholds (timing never counts). A
    /// baseline of other data is an error; another strategy or server version is compared, and
    /// said so.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// `qcheck diff A B`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier side: a baseline (`check --save-baseline`), or a plan file (`--save-plan`,
    /// EXPLAIN (FORMAT JSON) output, pasted psql output, auto_explain logs).
    #[arg(value_name = "A")]
    pub before: PathBuf,
    /// The later side, of the same kind as A.
    #[arg(value_name = "B")]
    pub after: PathBuf,
    /// For plan files: the partition map of their database (`qcheck partitions`), so partitions
    /// and their indexes fold to their parents exactly. Without it the map a plan saved by
    /// --save-plan carries is used, else partitions are recognised by name.
    #[arg(long, value_name = "MAP.json")]
    pub partitions: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Reads a baseline file, of either layout (one server, or several PostgreSQL versions).
pub(super) fn read_baseline(path: &Path) -> Result<BaselineFile> {
    let text = crate::files::read_text(path, MAX_PLAN_FILE_BYTES, "a baseline")?;
    BaselineFile::parse(&text).map_err(|e| Error::Baseline {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Refuses a several-version baseline file that has no entry for PostgreSQL `major`: a version
/// nobody saved plans for would pass unchecked, so the gate says so instead (exit 2).
pub(super) fn require_version(path: &Path, file: &BaselineFile, major: u32) -> Result<()> {
    if file.for_major(major).is_some() {
        return Ok(());
    }
    let held: Vec<String> = file.majors().iter().map(u32::to_string).collect();
    Err(Error::Baseline {
        path: path.to_path_buf(),
        message: format!(
            "holds the plans of PostgreSQL {}, not {major}: save it again with a --pg-bin-dir for \
             every version to check (`qcheck check --pg-bin-dir OLD --pg-bin-dir NEW \
             --save-baseline FILE`), or check only the versions it holds",
            held.join(", ")
        ),
    })
}

/// The baseline side of `check`: what was read before the run, and what to compare and write
/// after it.
pub(super) struct Hooks<'a> {
    args: &'a BaselineArgs,
    /// The `--baseline` file as read.
    file: Option<BaselineFile>,
    /// The baseline this run is compared with: the file's, or its entry for the server's major
    /// version (known once connected).
    before: Option<Baseline>,
    dataset: Option<DatasetIdentity>,
    server: Option<ServerIdentity>,
}

/// Refuses a threshold flag where nothing is compared (one server, no `--baseline`): it would be
/// silently meaningless.
pub(super) fn refuse_unused_thresholds(args: &BaselineArgs) -> Result<()> {
    match (&args.baseline, args.thresholds.given()) {
        (None, Some(flag)) => Err(Error::Usage(format!(
            "{flag} applies to a comparison: add --baseline FILE, or give several --pg-bin-dir \
             (or drop {flag})"
        ))),
        _ => Ok(()),
    }
}

impl<'a> Hooks<'a> {
    /// Reads `--baseline` before anything runs, so a bad file fails first.
    pub(super) fn read(args: &'a BaselineArgs) -> Result<Hooks<'a>> {
        let file = args.baseline.as_deref().map(read_baseline).transpose()?;
        Ok(Hooks {
            args,
            file,
            before: None,
            dataset: None,
            server: None,
        })
    }

    /// Whether there is anything to do.
    fn active(&self) -> bool {
        self.args.baseline.is_some() || self.args.save_baseline.is_some()
    }

    /// Records the run's identity and refuses a baseline of other data (before the queries run).
    pub(super) fn identify(
        &mut self,
        dataset: Option<&DatasetMeta>,
        server: &ServerIdentity,
    ) -> Result<()> {
        if !self.active() {
            return Ok(());
        }
        self.server = Some(server.clone());
        self.dataset = dataset.map(identity_of);
        if let (Some(file), Some(path)) = (&self.file, &self.args.baseline) {
            require_version(path, file, server.major)?;
            self.before = file.for_major(server.major).cloned();
        }
        if let (Some(before), Some(path)) = (&self.before, &self.args.baseline) {
            let now = Baseline::new(self.dataset.clone(), self.server.clone());
            if let (_, Some(why)) = baseline::compare::identity(before, &now) {
                let hint = before.dataset.as_ref().map_or(String::new(), |d| {
                    format!(
                        "check with --profile {} --scale {} --seed {} to compare, or ",
                        d.profile, d.scale, d.seed
                    )
                });
                return Err(Error::Baseline {
                    path: path.clone(),
                    message: format!(
                        "taken on other data ({why}); plans, rows and buffers of different data \
                         are not comparable: {hint}save a new baseline with --save-baseline"
                    ),
                });
            }
        }
        Ok(())
    }

    /// After the run: writes `--save-baseline`, compares with `--baseline`.
    pub(super) fn finish(
        &self,
        results: &[QueryCheck],
        partitions: &PartitionMap,
    ) -> Result<Option<Comparison>> {
        if !self.active() {
            return Ok(None);
        }
        let now = Baseline::capture(
            results,
            partitions,
            self.dataset.clone(),
            self.server.clone(),
        );
        let comparison = match (&self.before, &self.args.baseline) {
            (Some(before), Some(path)) => {
                let (notes, _) = baseline::compare::identity(before, &now);
                Some(baseline::compare::compare(
                    before,
                    &now,
                    &format!("baseline {}", path.display()),
                    "this run",
                    self.args.thresholds.thresholds(),
                    notes,
                ))
            }
            _ => None,
        };
        if let Some(path) = &self.args.save_baseline {
            std::fs::write(path, now.to_json()).at(path)?;
            eprintln!(
                "qcheck: baseline written to {} ({} queries, {} plans)",
                path.display(),
                now.queries.len(),
                now.plan_count()
            );
        }
        Ok(comparison)
    }
}

/// The server's version, as a baseline records it.
pub(super) fn server_identity(client: &mut postgres::Client) -> Result<ServerIdentity> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), \
             current_setting('server_version_num')::int4",
            &[],
        )
        .db("reading the server version")?;
    let num: i32 = row.get(1);
    Ok(ServerIdentity {
        version: row.get(0),
        major: u32::try_from(num / 10_000).unwrap_or(0),
    })
}

/// The identity a baseline records of a dataset.
pub(super) fn identity_of(m: &DatasetMeta) -> DatasetIdentity {
    DatasetIdentity {
        profile: m.profile.clone(),
        profile_hash: m.profile_hash.clone(),
        scale: m.scale,
        seed: m.seed,
        generator_version: m.generator_version,
        digest: m.digest.clone(),
        strategy: m.strategy.clone(),
    }
}

/// One side of `qcheck diff`.
enum Side {
    Baseline(Baseline),
    Plans(Baseline),
}

impl Side {
    fn read(path: &Path, partitions: Option<&PartitionMap>) -> Result<Side> {
        let text = crate::files::read_text(path, MAX_PLAN_FILE_BYTES, "a baseline or plan file")?;
        let looks_like_baseline =
            serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{feff}'))
                .is_ok_and(|v| Baseline::looks_like(&v));
        if looks_like_baseline {
            let bad = |message: String| Error::Baseline {
                path: path.to_path_buf(),
                message,
            };
            return match BaselineFile::parse(&text).map_err(|e| bad(e.to_string()))? {
                BaselineFile::One(b) => Ok(Side::Baseline(*b)),
                f @ BaselineFile::PerVersion(_) => {
                    let held: Vec<String> = f.majors().iter().map(u32::to_string).collect();
                    Err(bad(format!(
                        "holds the baselines of PostgreSQL {}: `qcheck diff` compares two \
                         single-server baselines; check a version against it with `qcheck \
                         check --pg-bin-dir DIR --baseline FILE`",
                        held.join(", ")
                    )))
                }
            };
        }
        let plans = crate::plan::parse_plans(&text).map_err(|source| Error::PlanFile {
            path: path.to_path_buf(),
            source,
        })?;
        let plans: Vec<(Plan, PartitionMap)> = plans
            .into_iter()
            .map(|plan| {
                let map = super::check::offline_partitions(&plan, partitions, PartitionMap::none);
                (plan, map)
            })
            .collect();
        Ok(Side::Plans(Baseline::of_plans("statement", &plans)))
    }
}

/// Two sides compared as `qcheck diff` compares them: every identity difference, different data
/// included, is a note (also the plans of one dataset on several PostgreSQL versions).
pub(super) fn compare_sides(
    before: &Baseline,
    after: &Baseline,
    before_name: &str,
    after_name: &str,
    thresholds: baseline::Thresholds,
) -> Comparison {
    let (mut notes, data) = baseline::compare::identity(before, after);
    if let Some(why) = data {
        notes.insert(0, format!("different data: {why}"));
    }
    baseline::compare::compare(before, after, before_name, after_name, thresholds, notes)
}

/// `qcheck diff A B`: exit 0 same, 1 changed.
pub(super) fn run(g: &Global, args: &DiffArgs) -> Result<Outcome> {
    let partitions = args
        .partitions
        .as_deref()
        .map(super::check::read_partition_map)
        .transpose()?;
    let before = Side::read(&args.before, partitions.as_ref())?;
    let after = Side::read(&args.after, partitions.as_ref())?;
    let (before, after) = match (before, after) {
        (Side::Baseline(b), Side::Baseline(a)) | (Side::Plans(b), Side::Plans(a)) => (b, a),
        (b, _) => {
            let (base, plan) = if matches!(b, Side::Baseline(_)) {
                (&args.before, &args.after)
            } else {
                (&args.after, &args.before)
            };
            return Err(Error::Usage(format!(
                "{} is a baseline and {} a plan: `qcheck diff` compares two baselines or two \
                 plans (to compare a plan with a baseline, check the query with --baseline)",
                base.display(),
                plan.display()
            )));
        }
    };
    let comparison = compare_sides(
        &before,
        &after,
        &args.before.display().to_string(),
        &args.after.display().to_string(),
        args.thresholds.thresholds(),
    );
    if g.format == Format::Json {
        print!("{}", report::json::document(&comparison));
    } else {
        print!(
            "{}",
            report::diff::comparison(&comparison, g.format, g.layout().color)
        );
    }
    Ok(if comparison.passed {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}
