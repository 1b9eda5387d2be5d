//! Seeding end to end: decide whether the database already holds the requested dataset, and if not,
//! plan, load, build and vacuum it, then record it in `qcheck_meta`.
//!
//! This is what other commands call (`ensure_seeded`) before they explain, check or compare queries:
//! an unchanged request returns at once, a different one re-seeds, a different index strategy on the
//! same data only swaps the indexes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use postgres::Client;
use postgres::config::Host;
use serde::Serialize;

use super::load::{self, TABLES, TriggerMode};
use super::lock::DatasetLock;
use super::meta::{self, DatasetMeta, GENERATOR_VERSION};
use super::post::{self, Step, StepTiming, prepare_session, run_parallel};
use super::world::World;
use crate::dataset::{self, Counts, Profile};
use crate::db::{Session, Target};
use crate::error::{DbContext, Error, Result};
use crate::progress::Progress;
use crate::report::fmt;
use crate::schema::{self, Strategy};

/// `--seed` unless given.
pub const DEFAULT_SEED: u64 = 42;

/// Estimated bytes on disk per appointment, with its share of patients, every index and constraint,
/// the audit sample, and headroom for WAL during the load (measured: ~590 bytes at scale 1).
const EST_BYTES_PER_APPOINTMENT: f64 = 700.0;
const EST_BYTES_PER_PATIENT: f64 = 400.0;
/// Cap for servers whose free space qcheck cannot see.
const EXTERNAL_CAP_BYTES: f64 = 1024.0 * 1024.0 * 1024.0 * 1024.0;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedRequest {
    /// The dataset profile to generate.
    pub profile: Profile,
    /// Multiplier of the profile's per-scale counts (validated: finite, above 0).
    pub scale: f64,
    /// Seed of every random stream: the same profile, scale and seed give byte-identical rows.
    pub seed: u64,
    /// Index strategy (a name from `sql/strategies`).
    pub strategy: String,
    /// Seed even if the database holds this dataset already: the option that asked for it
    /// (`--force`, or `--timings`, which measures a seed), named in the note printed before seeding.
    pub force: Option<&'static str>,
}

impl SeedRequest {
    /// Resolves the profile (a built-in name or a .toml path) and checks scale and strategy.
    pub fn new(profile: &str, scale: f64, seed: u64, strategy: &str) -> Result<SeedRequest> {
        let scale = dataset::validate_scale(scale)?;
        schema::strategy(strategy)?;
        let profile = Profile::resolve(profile)?;
        profile.check_scale(scale)?;
        Ok(SeedRequest {
            profile,
            scale,
            seed,
            strategy: strategy.to_string(),
            force: None,
        })
    }

    /// The default dataset: `clinic`, scale 1, seed 42, the default strategy.
    pub fn default_dataset() -> Result<SeedRequest> {
        SeedRequest::new(
            dataset::DEFAULT_PROFILE,
            1.0,
            DEFAULT_SEED,
            schema::DEFAULT_STRATEGY,
        )
    }

    /// `tiny, scale 1, seed 2`, for messages.
    pub fn describe_data(&self) -> String {
        format!(
            "{}, scale {}, seed {}",
            self.profile.name, self.scale, self.seed
        )
    }

    /// `tiny, scale 1, seed 2, strategy tuned`, for messages.
    pub fn describe(&self) -> String {
        format!("{}, strategy {}", self.describe_data(), self.strategy)
    }

    /// Entity counts this request generates.
    pub fn counts(&self) -> Counts {
        self.profile.counts(self.scale)
    }
}

/// What `ensure_seeded` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedStatus {
    /// Generated and loaded now.
    Seeded,
    /// The database already held this dataset.
    UpToDate,
    /// Same data; only the index strategy was swapped.
    StrategyApplied,
}

/// One table in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    /// The table's name (partitioned tables by their parent's name).
    pub table: String,
    /// Rows as recorded when seeding.
    pub rows: u64,
    /// Leaf partitions (1 for an unpartitioned table).
    pub partitions: u32,
    /// Sum over the leaves of `pg_table_size` (heap, TOAST, FSM, VM).
    pub table_bytes: i64,
    /// Sum over the leaves of `pg_indexes_size`, bytes.
    pub index_bytes: i64,
}

/// Wall-clock time of one seeding phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTiming {
    /// Phase name, e.g. `indexes` or `strategy`.
    pub phase: String,
    /// Seconds the phase took.
    pub seconds: f64,
}

/// What `ensure_seeded` did and what the database holds now.
#[derive(Debug, Clone, Serialize)]
pub struct SeedOutcome {
    /// Whether the dataset was seeded, up to date, or had only its strategy swapped.
    pub status: SeedStatus,
    /// The target, without password.
    pub target: String,
    /// The dataset the database holds now, as recorded in `qcheck_meta`.
    pub dataset: DatasetMeta,
    /// Rows and sizes per dataset table.
    pub tables: Vec<TableSummary>,
    /// Time per phase of this run (empty when up to date).
    pub phases: Vec<PhaseTiming>,
    /// Seconds this run took, end to end.
    pub total_seconds: f64,
    /// Every step of the parallel phases (for `--timings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepTiming>,
    /// Seconds from the first appointment COPY to the end of the last (0 when not seeded).
    #[serde(skip)]
    pub appointment_copy_seconds: f64,
    /// What was repaired on a dataset that was otherwise up to date: indexes that did not match its
    /// strategy (see `schema::strategy_drift`), one line each kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<String>,
}

/// Makes sure the session's database holds the requested dataset, seeding it when it does not,
/// under the exclusive dataset lock (see [`DatasetLock`]).
pub fn ensure_seeded(
    session: &Session,
    request: &SeedRequest,
    progress: &Progress,
) -> Result<SeedOutcome> {
    let mut lock = DatasetLock::exclusive(session, &format!("seeding {}", request.describe()))?;
    ensure_seeded_under(session, &mut lock, request, progress)
}

/// [`ensure_seeded`] for a caller that holds the exclusive dataset lock already (`compare` holds it
/// for its whole run); the lock's connection does the work.
pub fn ensure_seeded_under(
    session: &Session,
    lock: &mut DatasetLock,
    request: &SeedRequest,
    progress: &Progress,
) -> Result<SeedOutcome> {
    let start = Instant::now();
    if !lock.is_exclusive() {
        return Err(Error::Dataset(
            "seeding needs the exclusive dataset lock (a qcheck bug: a shared one is held)".into(),
        ));
    }
    let client = lock.client();
    prepare_session(client)?;
    ensure_locked(session, client, request, progress, start)
}

/// Makes sure the database holds `request`'s dataset (seeding or repairing it when it does not)
/// and keeps it so: returns the dataset lock held shared, so no other process replaces the dataset
/// until the caller drops it, and what seeding did when it had to. The lock is taken shared first;
/// only when the dataset differs is it released and the exclusive one waited for, and the dataset
/// checked again under it (see [`DatasetLock`] for why never from shared to exclusive directly).
pub fn hold_dataset(
    session: &Session,
    request: &SeedRequest,
    progress: &Progress,
) -> Result<(DatasetLock, Option<SeedOutcome>)> {
    let reading = format!("reading {}", request.describe());
    let mut lock = DatasetLock::shared(session, &reading)?;
    if request.force.is_none() && dataset_mismatch(lock.client(), request, true)?.is_none() {
        return Ok((lock, None));
    }
    drop(lock);
    let mut lock = DatasetLock::exclusive(session, &format!("seeding {}", request.describe()))?;
    let outcome = ensure_seeded_under(session, &mut lock, request, progress)?;
    lock.downgrade(&reading)?;
    Ok((lock, Some(outcome)))
}

/// Checks, without writing anything, that the session's database can take `request`: the disk
/// estimate `ensure_seeded` makes first. Lets a command refuse an absurd scale before it announces
/// what it is about to write.
pub fn preflight(session: &Session, request: &SeedRequest) -> Result<()> {
    let mut client = session.connect()?;
    check_disk(session, &mut client, request)
}

/// What the database holds when it is not the requested dataset: `None` when it holds exactly that
/// dataset (with `request.strategy` applied when `with_strategy`) and exactly its strategy's indexes
/// (see `schema::strategy_drift`), else a short description of what is there ("no qcheck schema",
/// "the dataset tiny, scale 1, seed 7", "... whose indexes differ from it (1 index not part of
/// strategy tuned: x)", ...). Reads only: this is what
/// commands run against a server the user named, where qcheck seeds only when asked to.
pub fn dataset_mismatch(
    client: &mut Client,
    request: &SeedRequest,
    with_strategy: bool,
) -> Result<Option<String>> {
    let status = schema::status(client)?;
    let waiting: Vec<String> = status
        .migrations
        .iter()
        .filter(|m| m.state != "applied")
        .map(|m| format!("{:04} {}", m.version, m.state))
        .collect();
    if waiting.len() == status.migrations.len() {
        return Ok(Some("no qcheck schema".into()));
    }
    if !waiting.is_empty() {
        return Ok(Some(format!(
            "qcheck's schema with migrations not applied ({})",
            waiting.join(", ")
        )));
    }
    let Some(current) = meta::current_dataset(client)? else {
        return Ok(Some("qcheck's schema but no complete dataset".into()));
    };
    let describe = |m: &DatasetMeta| {
        format!(
            "the dataset {}, scale {}, seed {}",
            m.profile, m.scale, m.seed
        )
    };
    let wanted = DatasetMeta {
        profile: request.profile.name.clone(),
        profile_hash: request.profile.content_hash.clone(),
        scale: request.scale,
        seed: request.seed,
        generator_version: GENERATOR_VERSION,
        schema_checksum: meta::schema_checksum(client)?,
        strategy: request.strategy.clone(),
        digest: String::new(),
        row_counts: BTreeMap::new(),
        partitions: 0,
        completed_at: String::new(),
    };
    if !current.same_data(&wanted) {
        let mut there = describe(&current);
        if there == describe(&wanted) {
            there.push_str(" from another profile file, qcheck version or schema");
        }
        return Ok(Some(there));
    }
    let applied = status.strategy.unwrap_or_default();
    if with_strategy && (current.strategy != request.strategy || applied != request.strategy) {
        let shown = if applied.is_empty() {
            "no index strategy".to_string()
        } else {
            format!("index strategy {applied}")
        };
        return Ok(Some(format!("{} with {shown}", describe(&current))));
    }
    // Indexes added or dropped by hand, or left by an interrupted switch: plans checked there would
    // not be the strategy's.
    if !status.drift.is_clean() {
        return Ok(Some(format!(
            "{} with index strategy {} whose indexes differ from it ({})",
            describe(&current),
            current.strategy,
            status.drift.lines().join("; ")
        )));
    }
    Ok(None)
}

fn ensure_locked(
    session: &Session,
    client: &mut Client,
    request: &SeedRequest,
    progress: &Progress,
    start: Instant,
) -> Result<SeedOutcome> {
    let strategy = schema::strategy(&request.strategy)?;
    // Before anything else: an absurd scale is refused without touching the database.
    check_disk(session, client, request)?;
    let migrated = schema::migrate_up(client)?;
    if !migrated.is_empty() {
        let list: Vec<String> = migrated.iter().map(|v| format!("{v:04}")).collect();
        progress.note(&format!("applied migrations {}", list.join(", ")));
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "profile values are bounded by dataset validation (see issue: bounded input)"
    )]
    let partitions = request.profile.months().len() as u32;
    let wanted = DatasetMeta {
        profile: request.profile.name.clone(),
        profile_hash: request.profile.content_hash.clone(),
        scale: request.scale,
        seed: request.seed,
        generator_version: GENERATOR_VERSION,
        schema_checksum: meta::schema_checksum(client)?,
        strategy: strategy.name.clone(),
        digest: String::new(),
        row_counts: BTreeMap::new(),
        partitions,
        completed_at: String::new(),
    };
    let cached = meta::current_dataset(client)?;
    if request.force.is_none() {
        if let Some(current) = cached.clone().filter(|c| c.same_data(&wanted)) {
            let status = schema::status(client)?;
            let applied = status.strategy;
            let drift = status.drift;
            let mut repairs = Vec::new();
            if !drift.stray.is_empty() {
                schema::drop_indexes(client, &drift.stray)?;
                repairs.push(format!(
                    "dropped {} not part of strategy {}: {}",
                    plural(drift.stray.len(), "index", "indexes"),
                    strategy.name,
                    drift.stray.join(", ")
                ));
            }
            let incomplete = drift.to_rebuild();
            let same =
                current.strategy == strategy.name && applied.as_deref() == Some(&strategy.name);
            if same && incomplete.is_empty() {
                return Ok(SeedOutcome {
                    status: SeedStatus::UpToDate,
                    target: session.target.describe(),
                    tables: summary(client, &current.row_counts)?,
                    dataset: current,
                    phases: Vec::new(),
                    total_seconds: start.elapsed().as_secs_f64(),
                    steps: Vec::new(),
                    appointment_copy_seconds: 0.0,
                    repairs,
                });
            }
            if same {
                repairs.push(format!(
                    "rebuilt strategy {}: {} missing, invalid or changed: {}",
                    strategy.name,
                    plural(incomplete.len(), "index", "indexes"),
                    incomplete.join(", ")
                ));
            }
            let mut outcome =
                switch_strategy(session, client, current, &strategy, progress, start)?;
            outcome.repairs = repairs;
            return Ok(outcome);
        }
    }
    // Why this command is about to take a while: said once the profile is known to be feasible.
    let note = crate::report::seed::reseed_note(
        cached.as_ref(),
        &wanted,
        request.force,
        estimated_seconds(&request.counts()),
    );
    reseed(
        session, client, request, wanted, &strategy, &note, progress, start,
    )
}

/// Seconds a seed of `counts` takes on the embedded cluster, roughly (2 cores: about 1.5 s of fixed
/// work, then about 40 µs per appointment and 10 µs per patient with their indexes, vacuum and
/// statistics; measured: tiny in about 2 s, clinic scale 1 in 30–80 s). Shown before seeding so a
/// user knows what the wait is for.
pub fn estimated_seconds(counts: &Counts) -> f64 {
    1.5 + counts.appointments as f64 * 40e-6 + counts.patients as f64 * 10e-6
}

/// Same data, another index strategy: drop the old indexes, build the new ones per leaf on two
/// connections, attach them, refresh the statistics of the unpartitioned tables (expression indexes
/// get statistics of their own).
fn switch_strategy(
    session: &Session,
    client: &mut Client,
    current: DatasetMeta,
    strategy: &Strategy,
    progress: &Progress,
    start: Instant,
) -> Result<SeedOutcome> {
    // Until the switch completes the record names no strategy, so an interrupted switch is redone.
    meta::set_strategy(client, "")?;
    let leaves = load::existing_leaves(client)?;
    // Every index this switch builds is recorded before it is built: an interrupted switch leaves
    // records, and the next one drops what it had built.
    schema::plan_strategy(client, strategy, &leaves)?;
    let mut second = session.connect()?;
    prepare_session(&mut second)?;
    let mut steps = Vec::new();
    for index in strategy.indexes().filter(|i| post::on_appointment(i)) {
        for leaf in &leaves {
            steps.push(Step::Sql {
                label: format!("{leaf} {}", index.name),
                sql: post::leaf_index_statement(index, leaf),
            });
        }
    }
    let t = Instant::now();
    let mut timings = run_parallel(
        &mut [&mut *client, &mut second],
        "indexes",
        &steps,
        progress,
    )?;
    let mut phases = vec![PhaseTiming {
        phase: "indexes".into(),
        seconds: t.elapsed().as_secs_f64(),
    }];
    let mut finish = vec![Step::ApplyStrategy(strategy.clone())];
    for table in ["tenant", "provider", "patient", "appointment_audit"] {
        finish.push(Step::Sql {
            label: format!("analyze {table}"),
            sql: format!("ANALYZE {table}"),
        });
    }
    let t = Instant::now();
    timings.extend(run_parallel(
        &mut [&mut *client, &mut second],
        "strategy",
        &finish,
        progress,
    )?);
    phases.push(PhaseTiming {
        phase: "strategy".into(),
        seconds: t.elapsed().as_secs_f64(),
    });
    record_leaf_build_times(client, strategy, &timings)?;
    meta::set_strategy(client, &strategy.name)?;
    let dataset = meta::current_dataset(client)?.unwrap_or(current);
    Ok(SeedOutcome {
        status: SeedStatus::StrategyApplied,
        target: session.target.describe(),
        tables: summary(client, &dataset.row_counts)?,
        dataset,
        phases,
        total_seconds: start.elapsed().as_secs_f64(),
        steps: timings,
        appointment_copy_seconds: 0.0,
        repairs: Vec::new(),
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "the seed's state (session, connection, request, record, strategy, what to say, \
              progress, clock) passed down once, from ensure_locked only"
)]
fn reseed(
    session: &Session,
    client: &mut Client,
    request: &SeedRequest,
    mut wanted: DatasetMeta,
    strategy: &Strategy,
    note: &str,
    progress: &Progress,
    start: Instant,
) -> Result<SeedOutcome> {
    let mut phases = Vec::new();
    let mut phase = |name: &str, since: Instant| {
        phases.push(PhaseTiming {
            phase: name.into(),
            seconds: since.elapsed().as_secs_f64(),
        });
    };
    // Planned before the cached dataset is given up: a profile that cannot be generated (too many
    // appointments for its providers' hours, ...) fails here and leaves the dataset as it was.
    let t = Instant::now();
    request.profile.check_scale(request.scale)?;
    let world = World::plan(&request.profile, request.scale, request.seed)?;
    phase("plan", t);
    progress.note(note);

    // From here on the database holds no trusted dataset until the end.
    meta::clear(client)?;

    let superuser: bool = client
        .query_one("SELECT current_setting('is_superuser') = 'on'", &[])
        .db("checking privileges")?
        .get(0);
    let mode = if superuser {
        TriggerMode::Replica
    } else {
        TriggerMode::DisableUserTriggers
    };
    let mut second = session.connect()?;
    prepare_session(&mut second)?;

    let t = Instant::now();
    let loaded = load::load(&mut [&mut *client, &mut second], &world, mode, progress)?;
    phase("load", t);

    let t = Instant::now();
    let leaves: Vec<String> = world.months.iter().map(|m| m.leaf.clone()).collect();
    schema::plan_strategy(client, strategy, &leaves)?;
    let build = post::build_steps(&world, strategy);
    let mut steps = run_parallel(&mut [&mut *client, &mut second], "build", &build, progress)?;
    phase("constraints+indexes", t);

    let t = Instant::now();
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .db("reading the server version")?
        .get(0);
    let finish = post::finish_steps(&world, strategy, version);
    steps.extend(run_parallel(
        &mut [&mut *client, &mut second],
        "vacuum",
        &finish,
        progress,
    )?);
    phase("strategy+vacuum", t);
    drop(second);
    record_leaf_build_times(client, strategy, &steps)?;

    let mut row_counts: BTreeMap<String, u64> = BTreeMap::new();
    for (seg, rows) in loaded.segments.iter().zip(&loaded.produced.rows) {
        *row_counts.entry(seg.table().to_string()).or_default() += rows;
    }
    for s in &steps {
        if let Some(rows) = s.rows {
            row_counts.insert(s.step.clone(), rows);
        }
    }
    wanted.digest.clone_from(&loaded.produced.digest);
    wanted.row_counts = row_counts;
    // The schema the rows now sit in: on Citus the reset migrated down and up again, which changes
    // the fingerprint read before it (recording the old one made every later run reseed).
    wanted.schema_checksum = meta::schema_checksum(client)?;
    let t = Instant::now();
    let dataset = meta::write(client, &wanted)?;
    let tables = summary(client, &dataset.row_counts)?;
    phase("record", t);
    Ok(SeedOutcome {
        status: SeedStatus::Seeded,
        target: session.target.describe(),
        dataset,
        tables,
        phases,
        total_seconds: start.elapsed().as_secs_f64(),
        steps,
        appointment_copy_seconds: loaded.appointment_copy.as_secs_f64(),
        repairs: Vec::new(),
    })
}

/// Records how long each leaf index build of `strategy` took (the steps labelled `{leaf} {index}`,
/// see `post::build_steps`) on its leaf index in `qcheck_strategy_index`, so the strategy's recorded
/// build time covers its leaf builds and not only the parent index that attached them: what
/// `compare` reports for a strategy it finds in place.
fn record_leaf_build_times(
    client: &mut Client,
    strategy: &Strategy,
    steps: &[StepTiming],
) -> Result<()> {
    let mut built = Vec::new();
    for index in strategy.indexes().filter(|i| post::on_appointment(i)) {
        for s in steps {
            if let Some(leaf) = s.step.strip_suffix(&format!(" {}", index.name)) {
                built.push((index.leaf_index_name(leaf), s.seconds * 1e3));
            }
        }
    }
    schema::record_build_times(client, &built)
}

/// `1 index`, `3 indexes`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Rows (as recorded), partitions and sizes of every dataset table. A partitioned table's own size
/// is 0: the leaves of `pg_partition_tree` are summed. On a Citus coordinator the tables there are
/// empty shells: the sizes are summed over the shards on the workers (`citus_table_size`,
/// `citus_total_relation_size`), which is where the data is.
pub fn summary(client: &mut Client, rows: &BTreeMap<String, u64>) -> Result<Vec<TableSummary>> {
    let names: Vec<String> = TABLES.iter().rev().map(ToString::to_string).collect();
    let (table_size, index_size) = if crate::topology::detect(client)?.is_some() {
        (
            "citus_table_size(p.relid)",
            "citus_total_relation_size(p.relid) - citus_table_size(p.relid)",
        )
    } else {
        ("pg_table_size(p.relid)", "pg_indexes_size(p.relid)")
    };
    let result = client
        .query(
            &format!(
                "SELECT t.name, count(*)::int4,
                    coalesce(sum({table_size}), 0)::int8,
                    coalesce(sum({index_size}), 0)::int8
               FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord)
               CROSS JOIN LATERAL (
                     SELECT relid FROM pg_partition_tree(t.name::regclass) WHERE isleaf
                     UNION ALL -- pg_partition_tree lists nothing for an unpartitioned table
                     SELECT oid FROM pg_class WHERE oid = t.name::regclass AND relkind = 'r'
                    ) AS p
              GROUP BY t.name, t.ord ORDER BY t.ord"
            ),
            &[&names],
        )
        .db("measuring table sizes")?;
    Ok(result
        .iter()
        .map(|r| {
            let table: String = r.get(0);
            TableSummary {
                rows: rows.get(&table).copied().unwrap_or(0),
                table,
                // count(*) is never negative.
                partitions: r.get::<_, i32>(1).unsigned_abs(),
                table_bytes: r.get(2),
                index_bytes: r.get(3),
            }
        })
        .collect())
}

/// Refuses a scale whose estimated size does not fit the server's disk (free space plus what the
/// current dataset occupies, which the seed replaces), or a sane cap when the disk is not visible.
fn check_disk(session: &Session, client: &mut Client, request: &SeedRequest) -> Result<()> {
    let c = request.counts();
    let need = c.appointments as f64 * EST_BYTES_PER_APPOINTMENT
        + c.patients as f64 * EST_BYTES_PER_PATIENT;
    let current: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .db("measuring the database")?
        .get(0);
    let (room, what) = match free_space(session, client) {
        Some((path, free)) => (
            free as f64 + current as f64,
            format!("{} has {} free", path.display(), fmt::bytes(free as f64)),
        ),
        None => (
            EXTERNAL_CAP_BYTES,
            format!(
                "qcheck cannot see this server's disk and caps datasets at {}",
                fmt::bytes(EXTERNAL_CAP_BYTES)
            ),
        ),
    };
    if need > room {
        return Err(Error::Dataset(format!(
            "--scale {} of profile `{}` needs about {} on disk ({} appointments), but {what}: lower --scale",
            request.scale,
            request.profile.name,
            fmt::bytes(need),
            fmt::count_u64(c.appointments)
        )));
    }
    Ok(())
}

/// The server's data folder and its free bytes, when qcheck can see them: the embedded cluster, or a
/// server on this machine (Unix socket or localhost) that tells a superuser its data_directory.
fn free_space(session: &Session, client: &mut Client) -> Option<(PathBuf, u64)> {
    let path = match &session.target {
        Target::Embedded(c) => c.data_dir(),
        Target::Server(cfg, _) => {
            let local = cfg.get_hosts().iter().all(|h| match h {
                Host::Unix(_) => true,
                Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1"),
            });
            if !local {
                return None;
            }
            let row = client
                .query_one("SELECT current_setting('data_directory', true)", &[])
                .ok()?;
            PathBuf::from(row.get::<_, Option<String>>(0)?)
        }
    };
    let st = nix::sys::statvfs::statvfs(&path).ok()?;
    Some((
        path,
        st.blocks_available() as u64 * st.fragment_size() as u64,
    ))
}
