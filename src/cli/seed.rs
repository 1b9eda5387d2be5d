//! `qcheck seed`: generate and load the dataset, or confirm the database already holds it.

use clap::Args;

use super::{Global, Outcome};
use crate::db::Target;
use crate::error::Result;
use crate::generate::seed::human_bytes;
use crate::generate::{self, SeedOutcome, SeedStatus, Timings};
use crate::progress::thousands;
use crate::progress::{Progress, ProgressMode};
use crate::report::{self, Format};

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub dataset: super::check::DatasetArgs,
    /// Seed again even if the database holds this dataset.
    #[arg(long)]
    pub force: bool,
    /// Seed (forced), then measure the baselines and print the performance ratios: load throughput
    /// vs raw server-side COPY, generator rows/s, end to end vs the serial sum of the steps.
    #[arg(long)]
    pub timings: bool,
}

pub(super) fn run(g: &Global, args: &SeedArgs) -> Result<Outcome> {
    let mut request = args.dataset.request()?;
    request.force = args.force;
    let progress = Progress::new(if g.format == Format::Json {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    });
    let target = Target::resolve(&g.target_options())?;
    let session = target.open()?;
    if args.timings {
        let timings = generate::measure(&session, &request, &progress)?;
        session.close()?;
        print_timings(g.format, &timings);
        return Ok(Outcome::Success);
    }
    let outcome = generate::ensure_seeded(&session, &request, &progress)?;
    session.close()?;
    print_outcome(g.format, &outcome);
    Ok(Outcome::Success)
}

fn print_outcome(format: Format, o: &SeedOutcome) {
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(o).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        );
        return;
    }
    let d = &o.dataset;
    let what = format!(
        "profile {}, scale {}, seed {}, strategy {}",
        d.profile, d.scale, d.seed, d.strategy
    );
    match o.status {
        SeedStatus::UpToDate => eprintln!("qcheck: dataset up to date ({what}) on {}", o.target),
        SeedStatus::StrategyApplied => eprintln!(
            "qcheck: dataset up to date; index strategy `{}` applied in {:.1} s ({what})",
            d.strategy, o.total_seconds
        ),
        SeedStatus::Seeded => eprintln!(
            "qcheck: seeded {what} in {:.1} s on {}",
            o.total_seconds, o.target
        ),
    }
    let rows: Vec<Vec<String>> = o
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                thousands(t.rows),
                t.partitions.to_string(),
                human_bytes(t.table_bytes as f64),
                human_bytes(t.index_bytes as f64),
            ]
        })
        .collect();
    println!(
        "{}",
        report::table(
            format,
            &["table", "rows", "partitions", "table size", "index size"],
            &rows
        )
    );
    if !o.phases.is_empty() {
        let mut rows: Vec<Vec<String>> = o
            .phases
            .iter()
            .map(|p| vec![p.phase.clone(), format!("{:.1} s", p.seconds)])
            .collect();
        rows.push(vec!["total".into(), format!("{:.1} s", o.total_seconds)]);
        println!("{}", report::table(format, &["phase", "time"], &rows));
    }
    println!("dataset digest: sha256:{}", d.digest);
}

fn print_timings(format: Format, t: &Timings) {
    if format == Format::Json {
        let doc = serde_json::json!({
            "profile": t.seed.dataset.profile,
            "scale": t.seed.dataset.scale,
            "appointments": t.appointments,
            "generator_rows_per_sec": t.generator_rows_per_sec(),
            "digest_bytes_per_sec": t.digest_bytes_per_sec,
            "seed_load_rows_per_sec": t.seed_load_rows_per_sec(),
            "copy_binary_rows_per_sec": t.copy_binary_rows_per_sec(),
            "copy_text_rows_per_sec": t.copy_text_rows_per_sec(),
            "load_ratio": t.load_ratio(),
            "serial_sum_seconds": t.serial_sum(),
            "end_to_end_seconds": t.seed.total_seconds,
            "end_to_end_ratio": t.end_to_end_ratio(),
            "seed": t.seed,
            "serial": t.serial,
        });
        println!("{doc:#}");
        return;
    }
    print_outcome(format, &t.seed);
    println!(
        "{}",
        report::table(format, &["measure", "value", "target"], &t.rows())
    );
}
