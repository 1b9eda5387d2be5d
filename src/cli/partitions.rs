//! `qcheck partitions`: the partition map of a database, for analysing its plans offline.
//!
//! Plans name the partitions they scan (`orders_2024_q1`) and their indexes, never the parent;
//! `explain --plan FILE --partitions MAP` needs the map to fold them into their tables. This command
//! reads it (one read-only query, [`crate::plan::CATALOG_SQL`]) from the embedded cluster or the
//! server `--database-url` names; `--sql` prints the query instead, for running it with psql where
//! qcheck is not installed.

use clap::Args;

use super::{Global, Outcome};
use crate::db::Target;
use crate::error::Result;
use crate::report::{self, Format};
use crate::runner::{RunAs, Runner};

/// Arguments of `qcheck partitions`.
#[derive(Debug, Args)]
pub struct PartitionsArgs {
    /// Print the SQL that produces the map (run it with `psql -XAt -c "$SQL" > partitions.json`)
    /// instead of running it.
    #[arg(long)]
    pub sql: bool,
}

pub(super) fn run(g: &Global, args: &PartitionsArgs) -> Result<Outcome> {
    if args.sql {
        println!("{}", crate::plan::CATALOG_SQL);
        return Ok(Outcome::Success);
    }
    let session = Target::resolve(&g.target_options())?.open()?;
    let mut client = session.connect()?;
    let map = Runner::new(&mut client, RunAs::connected()).partition_roots()?;
    drop(client);
    session.close()?;
    if g.format == Format::Markdown {
        let rows: Vec<Vec<String>> = map
            .iter()
            .map(|(c, p)| vec![c.clone(), p.clone()])
            .collect();
        println!(
            "{}",
            report::table(Format::Markdown, &["partition", "parent"], &rows)
        );
    } else {
        // The map is a data file (`--partitions FILE`): JSON for the table format too.
        println!(
            "{}",
            serde_json::to_string_pretty(&map).expect("a map serializes")
        );
    }
    Ok(Outcome::Success)
}
