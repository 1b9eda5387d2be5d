//! `qcheck compare`: index strategies side by side, measured on the same data.
//!
//! The question a schema designer asks is not "is this query fast" but "what does this set of indexes
//! buy, and what does it cost": plans and latency of every hot query on one side, index size, build
//! time and the price every booking pays on the other. This module measures both for each strategy,
//! on one seeded dataset, and returns plain data ([`model::Comparison`]) that `report::compare`
//! renders.
//!
//! Per strategy: apply it (drop the previous strategy's indexes, build this one's, time each build),
//! ANALYZE the tables that got an expression index (their statistics are what the planner needs;
//! re-sampling every table would only add noise between strategies), then for every query the
//! analysed custom and generic plans with their verdicts and the latency of real executions in both
//! plan modes (both from [`crate::runner`], on the same prepared statement), index sizes, and the
//! write probe ([`writes`]).
//!
//! Strategies are measured in the order given, except that the dataset's recorded strategy (when it
//! is compared) goes last: it is then left in place and nothing needs rebuilding. When it is not
//! compared it is re-applied at the end. Either way the database ends as `qcheck check` expects it.
//! The recorded strategy is updated after every swap, so an interrupted compare leaves a truthful
//! record.
//!
//! This module owns only the experiment: strategy swaps, the write probe, the harness check's
//! interleaving and the environment stamp. Every query it runs goes through [`crate::runner`].
//!
//! Noise: every latency is measured in `rounds` rounds (round `r` of every query before round `r + 1`
//! of any, so a burst of load on the machine lands in one round of many queries rather than in every
//! round of one), the write probe makes one pass per round, and the report calls two figures
//! different only when their round ranges do not overlap ([`model::Spread::separated`]).
//!
//! Submodules: [`model`] (the pure result types), [`writes`] (booking and cancellation cost),
//! [`contention`] (bookings under concurrent clients, and the collision race), [`environment`] (the
//! report's stamp), [`targets`] (the same comparison on several PostgreSQL versions or topologies,
//! side by side).
//!
//! On a Citus coordinator (the embedded topology or a user's own) the experiment is the same,
//! through the coordinator: what an application sees. Two figures need every node, not the
//! coordinator alone: WAL per write (`pg_current_wal_insert_lsn()` is per node: summed over the
//! coordinator and the workers, after a CHECKPOINT on each) and sizes (summed over the shards with
//! `citus_relation_size` instead of the coordinator's empty shell tables). The application's
//! identity there is a LOGIN member of `qcheck_app` ([`crate::topology::CITUS_APP_LOGIN`]), and a query Citus cannot
//! plan is left out of that target with a note rather than ending the comparison.

pub mod contention;
pub mod environment;
pub mod model;
pub mod targets;
pub mod writes;

use std::path::PathBuf;
use std::time::Instant;

use postgres::Client;

use crate::baseline::Baseline;
use crate::catalog::Query;
use crate::db::{Session, Target};
use crate::error::{DbContext, Error, Result};
use crate::generate::{self, DatasetLock, SeedRequest};
use crate::plan::Mode;
use crate::progress::{Progress, Unit};
use crate::runner::{RunAs, RunAsRequest, Runner, pgbench};
use crate::schema::{self, BuiltIndex, Strategy};
use model::{
    Comparison, Contention, DatasetInfo, HarnessCheck, HarnessMode, IndexInfo, Latency, Method,
    QueryResult, Race, Spread, StrategyResult,
};
use writes::WritePlan;

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    /// The dataset (its `strategy` is ignored: the recorded one is kept).
    pub dataset: SeedRequest,
    /// The index strategies to measure, in the order given.
    pub strategies: Vec<Strategy>,
    /// The queries to check and time under every strategy.
    pub queries: Vec<Query>,
    /// Timed executions per query and plan mode, over all rounds.
    pub runs: usize,
    /// Rounds the timed executions and the write passes are split into (the spread).
    pub rounds: usize,
    /// Untimed executions before the timed ones (spread over the rounds).
    pub warmup: usize,
    /// The strategy ratios are shown against (one of `strategies`).
    pub base: String,
    /// The contention sweep per strategy (None skips it).
    pub contention: Option<ContentionRequest>,
    /// Rounds of the 32-client collision race (0 skips it).
    pub race_rounds: usize,
    /// Bookings to insert per write pass (fewer when the data has fewer free slots).
    pub bookings: usize,
    /// Cancellations per write pass (fewer when fewer booked appointments qualify).
    pub cancellations: usize,
    /// Executions per plan mode for the pgbench comparison; 0 skips it.
    pub harness_runs: usize,
    /// Where to look for pgbench (the server binaries' folder).
    pub pg_bin_dir: Option<PathBuf>,
    /// Who the queries run as (`--as-owner`, `--as-role`, `--tenant`; default the application), as
    /// for `check`. The write probe runs as the connecting user whatever this says.
    pub run_as: RunAsRequest,
}

/// The contention sweep's settings.
#[derive(Debug, Clone)]
pub struct ContentionRequest {
    /// Seconds per client count and collision setting.
    pub seconds: f64,
    /// Client counts, ascending.
    pub clients: Vec<usize>,
    /// Share of bookings that collide on purpose in the second run of each level.
    pub collision_share: f64,
}

/// Seeds (or reuses) the dataset, measures every strategy, restores the recorded strategy. The
/// caller holds the exclusive dataset lock (`lock`) for the whole run.
pub fn run(
    session: &Session,
    lock: &mut DatasetLock,
    req: &CompareRequest,
    progress: &Progress,
) -> Result<Comparison> {
    let start = Instant::now();
    if req.strategies.is_empty() {
        return Err(Error::Usage("compare needs at least one --strategy".into()));
    }
    let mut client = session.connect()?;
    let mut seed = req.dataset.clone();
    // Keep the strategy the database has, so that an existing dataset is reused as it is.
    seed.strategy = generate::current_dataset(&mut client)?
        .map(|m| m.strategy)
        .filter(|s| schema::strategy(s).is_ok())
        .unwrap_or_else(|| req.strategies[req.strategies.len() - 1].name.clone());
    let seeded = generate::ensure_seeded_under(session, lock, &seed, progress)?;
    let seed_seconds =
        (seeded.status == generate::SeedStatus::Seeded).then_some(seeded.total_seconds);
    let meta = generate::current_dataset(&mut client)?.ok_or_else(|| {
        Error::Dataset("the dataset was seeded but qcheck_meta holds no record".into())
    })?;
    let recorded = meta.strategy.clone();
    let local = matches!(session.target, Target::Embedded(_));
    let citus = crate::topology::detect(&mut client)?;
    let (run_as, app_role) = if citus.is_some() {
        citus_identity(&mut client, &req.run_as)?
    } else {
        (
            RunAs::resolve(&mut client, &req.run_as)?,
            schema::APP_ROLE.to_string(),
        )
    };

    let stamp = environment::stamp(&mut client, session.target.describe(), local)?;
    // Indexes made or dropped by hand were repaired first: say so in the report.
    let mut notes: Vec<String> = seeded
        .repairs
        .iter()
        .map(|r| format!("before comparing, {r}"))
        .collect();
    if let Some(info) = &citus {
        notes.push(format!(
            "{info}: every figure is measured through the coordinator, as an application sees \
             it; WAL per write is summed over the coordinator and the workers (where the shards' \
             writes log), CHECKPOINT runs on every node, and sizes are summed over the shards"
        ));
    }

    progress.note("finding free slots for the write probe");
    let ids = req.dataset.profile.spec.ids.appointment;
    let mut plan = WritePlan::find(&mut client, req.bookings, req.cancellations, ids)?;
    plan.citus = citus.is_some();
    if plan.bookings.len() < req.bookings {
        notes.push(format!(
            "only {} free slots found for {} bookings requested: the write figures use {}",
            plan.bookings.len(),
            req.bookings,
            plan.bookings.len()
        ));
    }
    if plan.cancellations.len() < req.cancellations {
        notes.push(format!(
            "only {} booked appointments to cancel for {} requested",
            plan.cancellations.len(),
            req.cancellations
        ));
    }
    let checkpoint = writes::can_checkpoint(&mut client);
    if !checkpoint {
        notes.push(
            "CHECKPOINT is not permitted for this role (needs superuser or pg_checkpoint): WAL per write \
             includes whatever full-page images the server's own checkpoint cycle implies"
                .into(),
        );
    }
    let contention_setup = if req.contention.is_some() || req.race_rounds > 0 {
        if let Some(reason) = contention::unavailable(&mut client)? {
            notes.push(format!("contention benchmark skipped: {reason}"));
            None
        } else {
            progress.note("reading the calendar for the contention benchmark");
            // A run interrupted earlier may have left its committed bookings.
            contention::cleanup(&mut client)?;
            Some(contention::Setup::find(&mut client, ids, &app_role)?)
        }
    } else {
        None
    };
    let probes = Probes {
        plan: &plan,
        checkpoint,
        citus: citus.is_some(),
        contention: contention_setup
            .as_ref()
            .and_then(|s| req.contention.as_ref().map(|r| (s, r))),
    };
    let mut order: Vec<&Strategy> = req
        .strategies
        .iter()
        .filter(|s| s.name != recorded)
        .collect();
    order.extend(req.strategies.iter().filter(|s| s.name == recorded));
    let mut results = Vec::with_capacity(order.len());
    for strategy in order {
        let r = measure_strategy(
            session,
            &mut client,
            strategy,
            req,
            &run_as,
            &probes,
            progress,
        )?;
        for n in r.1 {
            notes.push(n);
        }
        results.push(r.0);
    }
    let last = results.last().map(|r| r.name.clone()).unwrap_or_default();
    if last != recorded {
        progress.note(&format!("restoring the dataset's strategy `{recorded}`"));
        let strategy = schema::strategy(&recorded)?;
        let built = schema::apply_strategy(&mut client, &strategy)?;
        generate::meta::set_strategy(&mut client, &recorded)?;
        analyze_expression_tables(&mut client, &built)?;
    }
    // Back in the order the user gave.
    results.sort_by_key(|r| req.strategies.iter().position(|s| s.name == r.name));

    let race = match &contention_setup {
        Some(setup) if req.race_rounds > 0 => race(
            session,
            &mut client,
            setup,
            req,
            &recorded,
            &mut notes,
            progress,
        )?,
        _ => None,
    };

    let harness = if req.harness_runs == 0 {
        None
    } else {
        match harness_check(session, &mut client, req, &run_as, &recorded, &mut notes) {
            Ok(h) => h,
            Err(e) if citus.is_some() => {
                notes.push(format!(
                    "harness check skipped, Citus refused its query: {}",
                    one_line(&e.to_string())
                ));
                None
            }
            Err(e) => return Err(e),
        }
    };

    let dataset = DatasetInfo {
        profile: meta.profile.clone(),
        scale: meta.scale,
        seed: meta.seed,
        generator_version: meta.generator_version,
        digest: meta.digest.clone(),
        row_counts: meta.row_counts.clone(),
        partitions: meta.partitions,
        table_bytes: table_bytes(&mut client, citus.is_some())?,
        constraint_index_bytes: constraint_index_bytes(&mut client, citus.is_some())?,
        seed_seconds,
    };
    Ok(Comparison {
        stamp,
        dataset,
        method: method(req, &run_as),
        strategies: results,
        base: req.base.clone(),
        race,
        harness,
        left_in_place: recorded,
        notes,
        wall_seconds: start.elapsed().as_secs_f64(),
    })
}

fn method(req: &CompareRequest, run_as: &RunAs) -> Method {
    let mut description = vec![
        format!(
            "Identity: every query is prepared, timed and explained {} (the write probe runs as \
             the connecting user: it measures index and trigger maintenance, which row-level \
             security does not change).",
            run_as.describe()
        ),
        "Plans and verdicts: EXPLAIN (ANALYZE, BUFFERS, SETTINGS) of the prepared query under \
         plan_cache_mode = force_custom_plan and force_generic_plan, after one warm-up execution; \
         planning and execution time and shared buffers come from that plan."
            .into(),
        format!(
            "Latency: {} rounds of {} untimed then {} timed executions per plan mode of the statement \
             prepared once (extended protocol: Bind/Execute per round trip, text parameters, as pgbench \
             -M prepared), client-side wall time; nearest-rank percentiles over all rounds pooled. Round \
             r of every query runs before round r + 1 of any. Never EXPLAIN ANALYZE timing.",
            req.rounds,
            req.warmup.div_ceil(req.rounds.max(1)),
            req.runs.div_ceil(req.rounds.max(1))
        ),
        format!(
            "Noise: the spread of a figure is its min-max over the {n} rounds (p50 of each round; rate of \
             each write pass). Two strategies are called different only when their ranges do not overlap: \
             were they the same, {n} rounds against {n} would separate completely by chance with \
             probability 2 / C({}, {n}) = {:.1}% (the exact Mann-Whitney test at U = 0). Otherwise the \
             report says \"same within noise\", whatever the medians. Ratios are to the base strategy \
             `{}`.",
            2 * req.rounds,
            100.0 * Spread::chance(req.rounds, req.rounds),
            req.base,
            n = req.rounds,
        ),
        "Index size: pg_relation_size summed over pg_partition_tree (a partitioned index has no \
         storage of its own); build time: each CREATE INDEX, on the parent, cascading to every partition."
            .into(),
        format!(
            "Write cost: first the same writes once, unmeasured and rolled back, then VACUUM (so every \
             strategy writes into a warm cache); then {} passes, the median reported with every pass as the \
             spread, each: CHECKPOINT, and in one transaction the bookings (INSERT of 30-minute appointments \
             into free slots found beforehand, so no exclusion violation, each with an id of the \
             dataset's scheme ({}, as the application mints it)) one round trip each through the \
             audit and boundary triggers and every constraint and index; WAL = pg_current_wal_insert_lsn() \
             after minus before; ROLLBACK. The same again for the cancellations (UPDATE of booked future \
             appointments to cancelled). After every pass, VACUUM of the touched tables, so the next pass \
             and the next strategy find an all-visible heap.",
            req.rounds.max(1),
            match req.dataset.profile.spec.ids.appointment {
                crate::dataset::IdKind::V4 => "v4, random",
                crate::dataset::IdKind::V7 => "v7, time-ordered",
            }
        ),
    ];
    if let Some(c) = &req.contention {
        description.push(format!(
            "Contention: at {} clients (one thread and one connection each, SET ROLE qcheck_app, on \
             Citus a LOGIN member of it), each booking is BEGIN, SET LOCAL app.tenant_id, the \
             prepared INSERT, COMMIT; \
             providers drawn from a Zipf distribution (s = {}) over the live providers ranked by booked \
             appointments, each fresh booking in the next free 30-minute slot of the provider. Every level \
             runs {} s without collisions, then {} s with {:.0}% of bookings aimed at one of the last 32 \
             slots handed out, shifted by -15, 0 or +15 minutes. Bookings/s counts answered attempts \
             (booked, or refused with 23P01) per second, its spread the four quarters of the run; latency \
             is BEGIN to COMMIT or ROLLBACK of every attempt. The bookings commit and are deleted \
             afterwards with their audit rows (session_replication_role = replica), then VACUUM.",
            c.clients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            contention::ZIPF_S,
            c.seconds,
            c.seconds,
            c.collision_share * 100.0
        ));
    }
    if req.race_rounds > 0 {
        description.push(format!(
            "Collision race: {} clients connect as qcheck_app, wait at a barrier and are released at once, \
             client i booking shape i mod 5 of {} of one provider across a month boundary; settle time from \
             the release to the last answer; {} rounds, the winner deleted after each.",
            contention::RACE_CLIENTS,
            contention::race_shapes().join(", "),
            req.race_rounds
        ));
    }
    Method {
        runs: req.runs,
        rounds: req.rounds,
        warmup: req.warmup,
        bookings_requested: req.bookings,
        cancellations_requested: req.cancellations,
        description,
    }
}

/// The write probe, and the contention sweep when it runs: what every strategy replays.
struct Probes<'a> {
    plan: &'a WritePlan,
    checkpoint: bool,
    /// The database is a Citus coordinator.
    citus: bool,
    contention: Option<(&'a contention::Setup, &'a ContentionRequest)>,
}

/// Applies one strategy and measures it; returns its result and notes for the report.
fn measure_strategy(
    session: &Session,
    client: &mut Client,
    strategy: &Strategy,
    req: &CompareRequest,
    run_as: &RunAs,
    probes: &Probes<'_>,
    progress: &Progress,
) -> Result<(StrategyResult, Vec<String>)> {
    let rounds = req.rounds.max(1);
    let steps = (req.queries.len() * (rounds + 1)) as u64 + 4;
    let phase = progress.phase(&strategy.name, steps, Unit::Steps);
    let mut notes = Vec::new();
    // A strategy already in place (by definition) is measured as it stands: building it again
    // would cost minutes at scale and measure indexes no different from the ones there.
    let built = if let Some(built) = schema::strategy_in_place(client, strategy)? {
        phase.message("in place");
        notes.push(format!(
            "{}: in place (the dataset's indexes are this strategy's, by definition): not rebuilt; \
             its build time is the one recorded when it was built, its leaf index builds included",
            strategy.name
        ));
        built
    } else {
        phase.message("building indexes");
        let built = schema::apply_strategy(client, strategy)?;
        phase.message("analyzing");
        analyze_expression_tables(client, &built)?;
        built
    };
    generate::meta::set_strategy(client, &strategy.name)?;
    phase.inc(1);
    let indexes = index_info(client, &built, probes.citus)?;
    let mut runner = Runner::new(client, run_as.clone());
    let partitions = runner.partition_map()?;
    phase.inc(1);
    let (mut checks, mut statements) = (Vec::new(), Vec::new());
    for query in &req.queries {
        phase.message(&format!("{}: plans", query.name));
        let checked = runner
            .check(query, &[], &partitions)
            .and_then(|check| Ok((check, runner.prepare(query)?)));
        match checked {
            Ok((check, statement)) => {
                checks.push(check);
                statements.push(statement);
            }
            // On Citus a query the coordinator cannot plan is a finding of the comparison, not the
            // end of it: the report names it and the other queries are measured.
            Err(e) if probes.citus => notes.push(format!(
                "{}: `{}` was left out on this target, Citus refused it: {}",
                strategy.name,
                query.name,
                one_line(&e.to_string())
            )),
            Err(e) => return Err(e),
        }
        phase.inc(1);
    }
    // A generic plan the server refuses (Citus cannot plan every prepared statement generically)
    // is never run: its statement runs custom plans, so that is what its generic column times.
    for check in &checks {
        if let Some(reason) = &check.generic_exempt {
            notes.push(format!(
                "{}: `{}` has no generic plan on this target ({}); its generic column times the custom plans its prepared statement runs instead",
                strategy.name,
                check.name,
                one_line(reason)
            ));
        }
    }
    // samples[query][mode][round]
    let mut samples = vec![[Vec::new(), Vec::new()]; checks.len()];
    let (warmup, runs) = (req.warmup.div_ceil(rounds), req.runs.div_ceil(rounds));
    for round in 0..rounds {
        for ((check, prepared), per_mode) in checks.iter().zip(&statements).zip(samples.iter_mut())
        {
            phase.message(&format!("{}: round {}/{rounds}", check.name, round + 1));
            for (mode, out) in Mode::BOTH.into_iter().zip(per_mode.iter_mut()) {
                let timed = if check.generic_exempt.is_some() {
                    Mode::Custom
                } else {
                    mode
                };
                out.push(runner.time(prepared, &check.params, timed, warmup, runs)?);
            }
            phase.inc(1);
        }
    }
    let queries = checks
        .iter()
        .zip(&samples)
        .map(|(check, [custom, generic])| {
            QueryResult::new(
                check,
                Latency::from_rounds(custom),
                Latency::from_rounds(generic),
            )
        })
        .collect();
    let baseline = Baseline::capture(&checks, &partitions, None, None);
    drop(statements);
    phase.message("write probe");
    let writes = probes.plan.measure(client, probes.checkpoint, rounds)?;
    phase.inc(1);
    let contention = match probes.contention {
        Some((setup, c)) => {
            phase.message("contention");
            Some(sweep(
                session,
                client,
                setup,
                c,
                &strategy.name,
                &mut notes,
            )?)
        }
        None => None,
    };
    phase.inc(1);
    phase.finish(steps);
    Ok((
        StrategyResult {
            name: strategy.name.clone(),
            summary: summary(strategy),
            total_index_bytes: indexes.iter().map(|i| i.bytes).sum(),
            build_ms: built.iter().map(|b| b.build_ms).sum(),
            indexes,
            writes,
            contention,
            queries,
            baseline,
        },
        notes,
    ))
}

/// The contention sweep under one strategy: every client count without, then with collisions;
/// the bookings removed afterwards.
fn sweep(
    session: &Session,
    client: &mut Client,
    setup: &contention::Setup,
    req: &ContentionRequest,
    strategy: &str,
    notes: &mut Vec<String>,
) -> Result<Contention> {
    let pool = contention::Pool::new(setup);
    let mut levels = Vec::new();
    let stop = contention::Stop::After(std::time::Duration::from_secs_f64(req.seconds));
    let mut ran_out = false;
    for &clients in &req.clients {
        for share in [0.0, req.collision_share] {
            let seed = (clients as u64) << 1 | u64::from(share > 0.0);
            let (level, exhausted) =
                contention::run_level(session, &pool, clients, share, stop, seed)?;
            ran_out |= exhausted;
            levels.push(level);
        }
    }
    if ran_out {
        notes.push(format!(
            "{strategy}: the contention sweep ran out of free slots before its time was up; its later \
             levels ran shorter"
        ));
    }
    contention::cleanup(client)?;
    Ok(Contention {
        seconds_per_level: req.seconds,
        collision_share: req.collision_share,
        zipf_s: contention::ZIPF_S,
        providers: setup.providers(),
        levels,
    })
}

/// The collision race, `req.race_rounds` rounds under the strategy left in place.
fn race(
    session: &Session,
    client: &mut Client,
    setup: &contention::Setup,
    req: &CompareRequest,
    strategy: &str,
    notes: &mut Vec<String>,
    progress: &Progress,
) -> Result<Option<Race>> {
    let Some(boundary) = setup.race_boundary() else {
        notes.push(
            "collision race skipped: no month boundary in the future part of the calendar has the \
             race's window free for one of the ten busiest providers"
                .into(),
        );
        return Ok(None);
    };
    progress.note("collision race");
    let mut rounds = Vec::new();
    for r in 0..req.race_rounds {
        let round = contention::race(session, setup, contention::RACE_CLIENTS, r as u64)?;
        contention::cleanup(client)?;
        rounds.extend(round);
    }
    Ok(Some(Race {
        clients: contention::RACE_CLIENTS,
        boundary: boundary.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        shapes: contention::race_shapes(),
        strategy: strategy.to_string(),
        settle_spread: Spread::of(rounds.iter().map(|r| r.settle_ms).collect()),
        rounds,
    }))
}

/// The strategy's summary without its `Strategy `name`:` lead-in (the report shows the name already).
fn summary(s: &Strategy) -> String {
    let lead = format!("Strategy `{}`:", s.name);
    let rest = s
        .summary
        .strip_prefix(&lead)
        .map_or(s.summary.as_str(), str::trim);
    let mut chars = rest.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// ANALYZE the tables on which `built` holds an expression index: PostgreSQL keeps statistics on an
/// index expression only after ANALYZE, and the planner's estimate for a predicate on it (the trigram
/// search) depends on them. Plain column indexes need none (CREATE INDEX records their size).
fn analyze_expression_tables(client: &mut Client, built: &[BuiltIndex]) -> Result<()> {
    let names: Vec<&str> = built.iter().map(|b| b.name.as_str()).collect();
    let rows = client
        .query(
            "SELECT DISTINCT t.oid::regclass::text
               FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid
              WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)
                AND i.indexprs IS NOT NULL",
            &[&names],
        )
        .db("finding expression indexes")?;
    for row in rows {
        let table: String = row.get(0);
        crate::db::unbounded(client, |client| {
            client
                .batch_execute(&format!("ANALYZE {table}"))
                .db(format!("ANALYZE {table}"))
        })?;
    }
    Ok(())
}

/// The size function of one relation: `pg_relation_size`, or on a Citus coordinator (whose tables
/// are empty shells) `citus_relation_size`, which sums the relation's shards on the workers.
fn size_fn(citus: bool) -> &'static str {
    if citus {
        "citus_relation_size"
    } else {
        "pg_relation_size"
    }
}

/// Size, table and definition of each index a strategy built. A partitioned index (relkind `I`) has
/// no storage: its size is the sum over its partition tree (pg_partition_tree lists nothing for an
/// ordinary index, which is measured directly).
fn index_info(client: &mut Client, built: &[BuiltIndex], citus: bool) -> Result<Vec<IndexInfo>> {
    let size = size_fn(citus);
    let sql = format!(
        "SELECT t.relname::text,
                (CASE WHEN c.relkind = 'I'
                      THEN (SELECT coalesce(sum({size}(p.relid)), 0) FROM pg_partition_tree(c.oid) p)
                      ELSE {size}(c.oid) END)::bigint,
                pg_get_indexdef(c.oid)
           FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = $1"
    );
    let mut out = Vec::with_capacity(built.len());
    for b in built {
        let row = client
            .query_one(&sql, &[&b.name])
            .db(format!("measuring index {}", b.name))?;
        out.push(IndexInfo {
            name: b.name.clone(),
            table: row.get(0),
            bytes: row.get(1),
            build_ms: b.build_ms,
            definition: row.get(2),
        });
    }
    Ok(out)
}

/// Indexes no strategy owns (they back constraints), summed over partitions; qcheck's own
/// bookkeeping tables are left out.
fn constraint_index_bytes(client: &mut Client, citus: bool) -> Result<i64> {
    let size = size_fn(citus);
    let sql = format!(
        "SELECT coalesce(sum(s.bytes), 0)::bigint
           FROM pg_class c
           JOIN pg_index i ON i.indexrelid = c.oid
           JOIN pg_class t ON t.oid = i.indrelid
           CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind = 'I'
                                      THEN (SELECT sum({size}(p.relid)) FROM pg_partition_tree(c.oid) p)
                                      ELSE {size}(c.oid) END AS bytes) s
          WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition
            AND t.relname NOT LIKE 'qcheck\\_%'
            AND c.relname NOT IN (SELECT index_name FROM qcheck_strategy_index)"
    );
    let row = client
        .query_one(&sql, &[])
        .db("measuring the constraint indexes")?;
    Ok(row.get(0))
}

/// Heap (with TOAST, FSM, VM) of every table of the model, leaves of partitioned tables included
/// (on Citus summed over the shards with `citus_table_size`).
fn table_bytes(client: &mut Client, citus: bool) -> Result<i64> {
    let size = if citus {
        "citus_table_size"
    } else {
        "pg_table_size"
    };
    let sql = format!(
        "SELECT coalesce(sum({size}(c.oid)), 0)::bigint FROM pg_class c
          WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
            AND c.relname NOT LIKE 'qcheck\\_%'"
    );
    let row = client.query_one(&sql, &[]).db("measuring the tables")?;
    Ok(row.get(0))
}

/// An error message as one line (a server's DETAIL and HINT can span several), for a note.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The identity on a Citus coordinator, and the role the contention clients book as: the runner's
/// (on Citus a LOGIN member of `qcheck_app`, because Citus connects to the workers as the current
/// role; the embedded topology creates `qcheck_citus_app`, see [`crate::runner::RunAs`]).
fn citus_identity(client: &mut Client, req: &RunAsRequest) -> Result<(RunAs, String)> {
    let run_as = RunAs::resolve(client, req)?;
    let role = run_as
        .role
        .clone()
        .unwrap_or_else(|| schema::APP_ROLE.to_string());
    Ok((run_as, role))
}

/// The harness check alternates qcheck and pgbench this many times per plan mode.
const HARNESS_ROUNDS: usize = 8;

/// qcheck's latency against pgbench's for one query (provider_day when compared, else the first).
fn harness_check(
    session: &Session,
    client: &mut Client,
    req: &CompareRequest,
    run_as: &RunAs,
    strategy: &str,
    notes: &mut Vec<String>,
) -> Result<Option<HarnessCheck>> {
    let Some(query) = req
        .queries
        .iter()
        .find(|q| q.name == "provider_day")
        .or(req.queries.first())
    else {
        return Ok(None);
    };
    let bin_dir = match &session.target {
        Target::Embedded(c) => Some(c.bin.dir.clone()),
        Target::Server(..) => req.pg_bin_dir.clone(),
    };
    let Some(pgbench) = pgbench::find(bin_dir.as_deref()) else {
        notes.push(
            "pgbench not found next to the PostgreSQL binaries: harness check skipped".into(),
        );
        return Ok(None);
    };
    let mut runner = Runner::new(client, run_as.clone());
    let params = runner.params(query, &[])?;
    let prepared = runner.prepare(query)?;
    let warmup = (req.harness_runs / HARNESS_ROUNDS / 10).max(10);
    let per_round = req.harness_runs.div_ceil(HARNESS_ROUNDS);
    let (cfg, tls) = (session.config(None), session.tls());
    let mut modes = Vec::new();
    for mode in Mode::BOTH {
        // Interleaved rounds, alternating which side goes first, pooled: a load change on a shared
        // machine then hits both sides alike instead of deciding the ratio.
        let (mut ours, mut theirs, mut command) = (Vec::new(), Vec::new(), String::new());
        for round in 0..HARNESS_ROUNDS {
            for side in [round % 2, 1 - round % 2] {
                if side == 0 {
                    let samples = runner.time(&prepared, &params, mode, warmup, per_round)?;
                    ours.extend(samples.iter().map(|d| d.as_secs_f64() * 1e3));
                } else {
                    let run = pgbench::run(
                        &pgbench,
                        (&cfg, &tls, run_as),
                        query,
                        &params,
                        mode,
                        warmup,
                        per_round,
                    )?;
                    theirs.extend(run.samples_ms);
                    command = run.command;
                }
            }
        }
        let (ours, theirs) = (Latency::from_ms(&ours), Latency::from_ms(&theirs));
        modes.push(HarnessMode {
            mode,
            ratio_p50: ratio(ours.p50_ms, theirs.p50_ms),
            ratio_mean: ratio(ours.mean_ms, theirs.mean_ms),
            qcheck: ours,
            pgbench: theirs,
            command,
        });
    }
    Ok(Some(HarnessCheck {
        query: query.name.clone(),
        params: params.display(),
        strategy: strategy.to_string(),
        runs: per_round * HARNESS_ROUNDS,
        rounds: HARNESS_ROUNDS,
        warmup,
        script: pgbench::script(query),
        modes,
    }))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
