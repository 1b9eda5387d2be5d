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
    /// vs raw server-side COPY, generator rows/s, end to end vs the serial sum of the steps.
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
    if args.timings && crate::topology::detect(&mut *session.connect()?)?.is_some() {
        return Err(crate::error::Error::Topology(
            "seed --timings compares COPY forms with server-side files on one server, which a Citus \
             coordinator cannot do; seed without --timings (its phase table gives the load's rows/s) \
             and compare with the same seed on one node"
                .into(),
        ));
    }
    if args.timings {
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
