//! `qcheck compare`: measure index strategies side by side and write the report (Markdown, HTML,
//! JSON) into a folder. A report is not a gate: it exits 0 whatever the verdicts, 2 on error.
//!
//! Targets are the second axis: `--pg-bin-dir` given more than once runs the comparison on the
//! embedded cluster of each PostgreSQL version, `--topology single,citus-1,...` on the single node
//! and each embedded Citus topology; one server runs at a time, each seeded with the same dataset,
//! and the report puts them side by side with the plan differences between them
//! ([`crate::compare::targets`]). Every target is located (binaries, versions, the Citus
//! extension) before any server starts, so a wrong folder or a missing extension fails first.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::DatasetArgs;
use super::run_as::RunAsArgs;
use super::{Global, Outcome};
use crate::catalog::Catalog;
use crate::compare::model::Comparison;
use crate::compare::targets::{TargetComparison, TargetKind, TargetRun, Topology};
use crate::compare::{self, CompareRequest, ContentionRequest};
use crate::db::{Target, TargetOptions};
use crate::error::{Error, IoContext, Result};
use crate::report::compare::targets as targets_report;
use crate::report::{self, Format, fmt};
use crate::schema;

/// Most bookings (and cancellations) the write probe takes: a million round trips per pass already
/// take minutes; more is a typo, and would hold a transaction open for hours.
const MAX_WRITES: usize = 1_000_000;

/// Longest contention run per level: an hour is already a typo.
const MAX_CONTENTION_SECONDS: f64 = 3600.0;

/// Most contention clients: one connection each, under the server's default max_connections.
const MAX_CLIENTS: usize = 64;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Index strategy to compare (repeatable; the report keeps this order). Default: every strategy in
    /// sql/strategies.
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// Compare only these queries (repeatable). Default: all.
    #[arg(long = "query", value_name = "NAME")]
    pub queries: Vec<String>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Folder the report is written to (report.md, report.html, report.json); created if missing.
    #[arg(long, default_value = "qcheck-report", value_name = "DIR")]
    pub out: PathBuf,
    /// Timed executions per query and plan mode, split over --rounds.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub runs: usize,
    /// Rounds the latency runs and the write passes are split into: a figure's spread is its min-max
    /// over rounds, and two strategies are called different only when their spreads do not overlap
    /// (with 5 rounds that happens by chance with probability 2/252 < 1%). At most --runs.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub rounds: usize,
    /// Untimed executions before the timed ones (spread over the rounds).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub warmup: usize,
    /// The strategy every ratio is shown against. Default: the first compared.
    #[arg(long, value_name = "STRATEGY")]
    pub base: Option<String>,
    /// Seconds of booking per client count in the contention benchmark, once without and once with
    /// collisions, under every strategy (0 skips it).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub contention_seconds: f64,
    /// Client counts of the contention benchmark, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = compare::contention::LEVELS, value_name = "N,N,...")]
    pub contention_clients: Vec<usize>,
    /// Share of bookings that aim at a slot another client has just taken, in the contention runs with
    /// collisions (0 to 1).
    #[arg(long, default_value_t = 0.25, value_name = "SHARE")]
    pub collision_share: f64,
    /// Rounds of the collision race: 32 clients released at once on five overlapping slots of one
    /// provider across a month boundary (0 skips it).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub race_rounds: usize,
    /// Appointments booked (then rolled back) to measure the write cost of each strategy (at most
    /// 1,000,000).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub bookings: usize,
    /// Booked appointments cancelled (then rolled back) to measure the update cost (at most
    /// 1,000,000).
    #[arg(long, default_value_t = 250, value_name = "N")]
    pub cancellations: usize,
    /// Executions per plan mode for the harness check against pgbench (0 skips it).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub harness_runs: usize,
    /// Topologies to compare the strategies on, comma-separated or repeated, in order (the first
    /// is what the others are compared with): `single` (the embedded single node) and `citus-N`
    /// (the embedded Citus topology with N workers, as --citus-workers N starts it), e.g.
    /// `--topology single,citus-1,citus-2`. Each is seeded with the same dataset.
    #[arg(
        long = "topology",
        value_delimiter = ',',
        value_name = "single|citus-N"
    )]
    pub topologies: Vec<String>,
    #[command(flatten)]
    pub run_as: RunAsArgs,
}

/// One server the comparison runs on, and how the report names it.
struct Named {
    name: String,
    target: Target,
}

/// The targets the options ask for: several PostgreSQL versions, several topologies, or the one
/// target every command uses. Located before any server starts.
fn targets(g: &Global, args: &CompareArgs) -> Result<(TargetKind, Vec<Named>)> {
    let mut topologies: Vec<Topology> = Vec::new();
    for t in &args.topologies {
        let t = Topology::parse(t, crate::topology::MAX_WORKERS).map_err(Error::Usage)?;
        if topologies.contains(&t) {
            return Err(Error::Usage(format!("--topology {t} is given twice")));
        }
        topologies.push(t);
    }
    if topologies.is_empty() {
        if g.pg_bin_dir.len() < 2 {
            let target = Target::resolve(&g.target_options())?;
            let name = target.describe();
            return Ok((TargetKind::Version, vec![Named { name, target }]));
        }
        let clusters = super::versions::clusters(g)?;
        let named = clusters
            .into_iter()
            .map(|c| Named {
                name: format!("PostgreSQL {}", c.bin.version),
                target: Target::Embedded(c),
            })
            .collect();
        return Ok((TargetKind::Version, named));
    }
    if g.pg_bin_dir.len() > 1 {
        return Err(Error::Usage(format!(
            "--topology with --pg-bin-dir given {} times: Citus runs on one PostgreSQL version \
             (the one it is built for); compare versions and topologies in two runs",
            g.pg_bin_dir.len()
        )));
    }
    if let Some(n) = g.citus_workers {
        return Err(Error::Usage(format!(
            "--topology and --citus-workers {n} both choose the topology: name it in --topology \
             (e.g. --topology single,citus-{n})"
        )));
    }
    if let Target::Server(..) = Target::resolve(&g.target_options())? {
        return Err(Error::Usage(
            "--topology compares qcheck's embedded topologies, but a server is named \
             (--database-url, DATABASE_URL or a PG* variable such as PGHOST): unset it, or \
             compare on your own server without --topology"
                .into(),
        ));
    }
    let mut named = Vec::with_capacity(topologies.len());
    for t in topologies {
        let opts = TargetOptions {
            citus_workers: t.workers(),
            ..g.target_options()
        };
        named.push(Named {
            name: t.to_string(),
            target: Target::Embedded(Target::embedded_cluster(&opts)?),
        });
    }
    Ok((TargetKind::Topology, named))
}

/// The comparison on one target: its server started (and stopped again when qcheck started it),
/// the dataset seeded under the exclusive lock, the strategies measured; the plans' baselines
/// stamped with the server's version so the comparison across targets names an upgrade.
fn compare_on(
    g: &Global,
    args: &CompareArgs,
    request: &CompareRequest,
    target: &Target,
    progress: &crate::progress::Progress,
) -> Result<Comparison> {
    let session = target.open()?;
    // The strategies compared are built and dropped in turn (the recorded one is restored), but the
    // dataset itself is seeded on a server the user named only by `qcheck seed`.
    // The exclusive dataset lock, for the whole run: no other process reads the dataset while its
    // indexes are swapped, nor replaces it.
    let mut lock = super::safety::require_dataset(
        g,
        &session,
        &request.dataset,
        &args.dataset,
        schema::DEFAULT_STRATEGY,
        super::safety::DatasetUse::Compare,
    )?;
    let server = super::diff::server_identity(lock.client())?;
    let mut comparison = compare::run(&session, &mut lock, request, progress)?;
    drop(lock);
    session.close()?;
    for s in &mut comparison.strategies {
        s.baseline.server = Some(server.clone());
    }
    Ok(comparison)
}

pub(super) fn run(g: &Global, args: &CompareArgs) -> Result<Outcome> {
    let request = request(g, args)?;
    let progress = g.progress();
    let (kind, named) = targets(g, args)?;
    if let [one] = named.as_slice() {
        let comparison = compare_on(g, args, &request, &one.target, &progress)?;
        return report_one(g, args, &comparison);
    }
    let start = std::time::Instant::now();
    let mut runs = Vec::with_capacity(named.len());
    for n in named {
        if g.format != Format::Json {
            eprintln!("qcheck: comparing on {} ({})", n.name, n.target.describe());
        }
        runs.push(TargetRun {
            comparison: compare_on(g, args, &request, &n.target, &progress)?,
            name: n.name,
        });
    }
    let tc = TargetComparison::new(
        kind,
        runs,
        crate::baseline::Thresholds::default(),
        start.elapsed().as_secs_f64(),
    );
    let md = targets_report::markdown(&tc);
    let json = targets_report::json(&tc);
    write_reports(&args.out, &md, &targets_report::html(&tc), &json)?;
    match g.format {
        Format::Json => print!("{json}"),
        Format::Markdown => print!("{md}"),
        Format::Table | Format::Junit | Format::Github => {
            println!("{}.", targets_report::headline(&tc));
            let (header, rows) = targets_report::summary_rows(&tc);
            println!("{}", report::table(Format::Table, &header, &rows));
            for d in &tc.diffs {
                println!(
                    "{} → {}, strategy `{}`: {} of {} plans differ",
                    d.from, d.to, d.strategy, d.changed_plans, d.compared_plans
                );
            }
            for c in targets_report::coordinator_targets(&tc) {
                println!("{}", targets_report::coordinator_line(&c));
            }
            for t in &tc.targets {
                for n in &t.comparison.notes {
                    println!("note: {}: {n}", t.name);
                }
            }
            for n in &tc.notes {
                println!("note: {n}");
            }
            println!(
                "report: {} (.md, .json) in {}",
                args.out.join("report.html").display(),
                fmt::duration_s(tc.wall_seconds)
            );
        }
    }
    Ok(Outcome::Success)
}

/// The three report files into `out` (created if missing).
fn write_reports(out: &Path, md: &str, html: &str, json: &str) -> Result<()> {
    std::fs::create_dir_all(out).at(out)?;
    write(&out.join("report.md"), md)?;
    write(&out.join("report.html"), html)?;
    write(&out.join("report.json"), json)
}

/// The report of a comparison on one target.
fn report_one(g: &Global, args: &CompareArgs, comparison: &Comparison) -> Result<Outcome> {
    let md = report::compare::markdown(comparison);
    let json = report::compare::json(comparison);
    write_reports(&args.out, &md, &report::compare::html(comparison), &json)?;

    match g.format {
        Format::Json => print!("{json}"),
        Format::Markdown => print!("{md}"),
        // junit and github are refused for every command but check and explain (cli::run).
        Format::Table | Format::Junit | Format::Github => {
            println!("{}.", report::compare::noise::headline(comparison));
            let (header, rows) = report::compare::summary_rows(comparison);
            println!("{}", report::table(Format::Table, &header, &rows));
            if let Some(h) = &comparison.harness {
                for m in &h.modes {
                    println!(
                        "harness check ({}, {} plan): qcheck p50 {}, pgbench p50 {}, ratio {}",
                        h.query,
                        m.mode.as_str(),
                        fmt::duration_ms(m.qcheck.p50_ms),
                        fmt::duration_ms(m.pgbench.p50_ms),
                        fmt::ratio(m.ratio_p50)
                    );
                }
            }
            for n in &comparison.notes {
                println!("note: {n}");
            }
            println!(
                "report: {} (.md, .json) in {}; strategy `{}` left in place",
                args.out.join("report.html").display(),
                fmt::duration_s(comparison.wall_seconds),
                comparison.left_in_place
            );
        }
    }
    Ok(Outcome::Success)
}

/// Validates the arguments before anything starts.
fn request(g: &Global, args: &CompareArgs) -> Result<CompareRequest> {
    if args.runs == 0 {
        return Err(Error::Usage("--runs must be at least 1".into()));
    }
    if args.rounds == 0 {
        return Err(Error::Usage("--rounds must be at least 1".into()));
    }
    if !(0.0..=MAX_CONTENTION_SECONDS).contains(&args.contention_seconds) {
        return Err(Error::Usage(format!(
            "--contention-seconds must be between 0 and {MAX_CONTENTION_SECONDS}, got {}",
            args.contention_seconds
        )));
    }
    if !(0.0..1.0).contains(&args.collision_share) {
        return Err(Error::Usage(format!(
            "--collision-share must be at least 0 and below 1, got {}",
            args.collision_share
        )));
    }
    if args.contention_clients.is_empty()
        || args
            .contention_clients
            .iter()
            .any(|c| !(1..=MAX_CLIENTS).contains(c))
    {
        return Err(Error::Usage(format!(
            "--contention-clients takes client counts from 1 to {MAX_CLIENTS}"
        )));
    }
    if args.bookings > MAX_WRITES || args.cancellations > MAX_WRITES {
        return Err(Error::Usage(format!(
            "--bookings and --cancellations take at most {MAX_WRITES} (got {} and {}): the write \
             probe replays them for every strategy, one round trip each",
            args.bookings, args.cancellations
        )));
    }
    let strategies = if args.strategies.is_empty() {
        schema::strategies()?
    } else {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for name in &args.strategies {
            if seen.contains(&name.as_str()) {
                return Err(Error::Usage(format!("--strategy {name} is given twice")));
            }
            seen.push(name);
            out.push(schema::strategy(name)?);
        }
        out
    };
    let base = match &args.base {
        None => strategies
            .first()
            .map_or_else(String::new, |s| s.name.clone()),
        Some(b) if strategies.iter().any(|s| &s.name == b) => b.clone(),
        Some(b) => {
            return Err(Error::Usage(format!(
                "--base {b} is not among the strategies compared ({})",
                strategies
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let mut clients = args.contention_clients.clone();
    clients.sort_unstable();
    clients.dedup();
    let catalog = Catalog::builtin()?;
    let queries = catalog
        .select(&args.queries)?
        .into_iter()
        .cloned()
        .collect();
    Ok(CompareRequest {
        dataset: args.dataset.request(schema::DEFAULT_STRATEGY)?,
        strategies,
        queries,
        runs: args.runs,
        // Fewer runs than rounds: one run per round.
        rounds: args.rounds.min(args.runs),
        warmup: args.warmup,
        base,
        contention: (args.contention_seconds > 0.0).then_some(ContentionRequest {
            seconds: args.contention_seconds,
            clients,
            collision_share: args.collision_share,
        }),
        race_rounds: args.race_rounds,
        bookings: args.bookings,
        cancellations: args.cancellations,
        harness_runs: args.harness_runs,
        pg_bin_dir: g.pg_bin_dir.first().cloned(),
        run_as: args.run_as.request(),
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).at(path)
}
