//! `qcheck seed`: generate and load the dataset, or confirm the database already holds it. The
//! output is rendered by `report::seed`.

use clap::Args;

use super::{Global, Outcome};
use crate::db::Target;
use crate::error::Result;
use crate::generate;
use crate::report::{self, Format};

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub dataset: super::args::SeededDatasetArgs,
    /// Seed again even if the database holds this dataset.
    #[arg(long)]
    pub force: bool,
    /// Seed even though the database holds tables that are not qcheck's (qcheck adds its own next to
    /// them and leaves them alone).
    #[arg(long)]
    pub yes: bool,
    /// Seed (forced), then measure the baselines and print the performance ratios: load throughput
    /// vs raw server-side COPY, generator rows/s, end to end vs the serial sum of the steps. On
    /// Citus (--citus-workers N, or --database-url naming a coordinator) the same dataset is also
    /// seeded on the home's embedded single node, and each seed phase's rows/s is compared.
    #[arg(long)]
    pub timings: bool,
}

pub(super) fn run(g: &Global, args: &SeedArgs) -> Result<Outcome> {
    let mut request = args.dataset.request()?;
    request.force = args.force.then_some("--force");
    let progress = g.progress();
    let target = Target::resolve(&g.target_options())?;
    let session = target.open()?;
    // An absurd scale is refused before anything is announced or written.
    generate::preflight(&session, &request)?;
    super::safety::before_writing(&target, &mut *session.connect()?, "seeding", args.yes)?;
    if args.timings {
        if crate::topology::detect(&mut *session.connect()?)?.is_some() {
            return timings_on_citus(g, args, &request, session, &progress);
        }
        let timings = generate::measure(&session, &request, &progress)?;
        session.close()?;
        if g.format != Format::Json {
            eprintln!("{}", report::seed::status_line(&timings.seed));
        }
        print!("{}", report::seed::timings(g.format, &timings));
        return Ok(Outcome::Success);
    }
    let outcome = generate::ensure_seeded(&session, &request, &progress)?;
    session.close()?;
    if g.format != Format::Json {
        eprintln!("{}", report::seed::status_line(&outcome));
    }
    print!("{}", report::seed::outcome(g.format, &outcome));
    Ok(Outcome::Success)
}

/// `seed --timings` on a Citus coordinator (`session`): the forced seed through it, then, with that
/// topology stopped again when this command started it (one topology runs at a time), the same
/// dataset measured on the embedded single node of the same home, whose dataset it replaces.
fn timings_on_citus(
    g: &Global,
    args: &SeedArgs,
    request: &generate::SeedRequest,
    session: crate::db::Session,
    progress: &crate::progress::Progress,
) -> Result<Outcome> {
    let citus = generate::seed_forced(&session, request, progress)?;
    session.close()?;
    let opts = crate::db::TargetOptions {
        database_url: None,
        citus_workers: None,
        ..g.target_options()
    };
    let single = Target::Embedded(Target::embedded_cluster(&opts)?);
    if g.format != Format::Json {
        eprintln!("{}", report::seed::status_line(&citus));
        eprintln!(
            "qcheck: the same dataset on the single node, for the Citus/single ratios: {}",
            single.describe()
        );
    }
    let session = single.open()?;
    generate::preflight(&session, request)?;
    super::safety::before_writing(&single, &mut *session.connect()?, "seeding", args.yes)?;
    let timings = generate::measure(&session, request, progress)?;
    session.close()?;
    if g.format != Format::Json {
        eprintln!("{}", report::seed::status_line(&timings.seed));
    }
    let both = generate::TopologyTimings {
        single: timings,
        citus,
    };
    print!("{}", report::seed::topology_timings(g.format, &both));
    Ok(Outcome::Success)
}
