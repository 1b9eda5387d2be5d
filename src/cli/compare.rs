//! `qcheck compare`: measure index strategies side by side and write the report (Markdown, HTML,
//! JSON) into a folder. A report is not a gate: it exits 0 whatever the verdicts, 2 on error.

use std::path::{Path, PathBuf};

use clap::Args;

use super::args::DatasetArgs;
use super::run_as::RunAsArgs;
use super::{Global, Outcome};
use crate::catalog::Catalog;
use crate::compare::{self, CompareRequest};
use crate::db::Target;
use crate::error::{Error, IoContext, Result};
use crate::report::{self, Format, fmt};
use crate::schema;

/// Most bookings (and cancellations) the write probe takes: a million round trips per pass already
/// take minutes; more is a typo, and would hold a transaction open for hours.
const MAX_WRITES: usize = 1_000_000;

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
    /// Timed executions per query and plan mode.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub runs: usize,
    /// Untimed executions before the timed ones.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub warmup: usize,
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
    #[command(flatten)]
    pub run_as: RunAsArgs,
}

pub(super) fn run(g: &Global, args: &CompareArgs) -> Result<Outcome> {
    let request = request(g, args)?;
    let progress = g.progress();
    let target = Target::resolve(&g.target_options())?;
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
    let comparison = compare::run(&session, &mut lock, &request, &progress)?;
    drop(lock);
    session.close()?;

    let md = report::compare::markdown(&comparison);
    let json = report::compare::json(&comparison);
    std::fs::create_dir_all(&args.out).at(&args.out)?;
    write(&args.out.join("report.md"), &md)?;
    write(
        &args.out.join("report.html"),
        &report::compare::html(&comparison),
    )?;
    write(&args.out.join("report.json"), &json)?;

    match g.format {
        Format::Json => print!("{json}"),
        Format::Markdown => print!("{md}"),
        Format::Table => {
            let (header, rows) = report::compare::summary_rows(&comparison);
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
        warmup: args.warmup,
        bookings: args.bookings,
        cancellations: args.cancellations,
        harness_runs: args.harness_runs,
        pg_bin_dir: g.pg_bin_dir.clone(),
        run_as: args.run_as.request(),
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).at(path)
}
