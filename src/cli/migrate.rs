//! `qcheck migrate [up|down|status]`: the schema migrations and the index strategy on top.

use super::{Global, MigrateCommand, Outcome};
use crate::db::Target;
use crate::error::Result;
use crate::generate::DatasetLock;
use crate::report::{self, Format};
use crate::schema;

pub(super) fn run(g: &Global, action: &MigrateCommand, yes: bool) -> Result<Outcome> {
    let target = Target::resolve(&g.target_options())?;
    let session = target.open()?;
    // Migrating (with its strategy) and reverting change the dataset: never under a running check.
    let lock = match action {
        MigrateCommand::Status => None,
        _ => Some(DatasetLock::exclusive(&session, "migrating")?),
    };
    let mut client = session.connect()?;
    match action {
        MigrateCommand::Up {
            strategy,
            no_indexes,
        } => {
            let strategy = if *no_indexes {
                None
            } else {
                Some(schema::strategy(strategy)?)
            };
            super::safety::before_writing(&target, &mut client, "migrating", yes)?;
            let applied = schema::migrate_up(&mut client)?;
            let described = crate::topology::describe_connected(&target, &mut client)?;
            let built = match &strategy {
                // Re-applying the same strategy on every `migrate` would rebuild indexes for nothing.
                Some(s)
                    if !applied.is_empty()
                        || schema::status(&mut client)?.strategy.as_deref() != Some(&s.name) =>
                {
                    schema::apply_strategy(&mut client, s)?
                }
                _ => Vec::new(),
            };
            if g.format == Format::Json {
                let doc = serde_json::json!({ "applied": applied, "strategy": strategy.map(|s| s.name), "indexes": built });
                println!("{doc:#}");
            } else if applied.is_empty() {
                eprintln!("qcheck: schema up to date on {described}");
            } else {
                let list: Vec<String> = applied.iter().map(|v| format!("{v:04}")).collect();
                eprintln!(
                    "qcheck: applied migrations {} on {described}",
                    list.join(", ")
                );
                if let Some(s) = &strategy {
                    eprintln!(
                        "qcheck: index strategy `{}`: {} indexes",
                        s.name,
                        built.len()
                    );
                }
            }
        }
        MigrateCommand::Down { to } => {
            super::safety::before_dropping(&target, &mut client, yes)?;
            let reverted = schema::migrate_down(&mut client, *to)?;
            let kept = if *to == 0 {
                schema::app_role_members(&mut client)?
            } else {
                None
            };
            if let Some(members) = kept.filter(|m| !m.is_empty()) {
                eprintln!(
                    "qcheck: kept role {}: {} {} members of it and would lose access; `qcheck \
                     migrate` grants it again (DROP ROLE {} yourself once nothing needs it)",
                    schema::APP_ROLE,
                    members.join(", "),
                    if members.len() == 1 { "is" } else { "are" },
                    schema::APP_ROLE
                );
            }
            if g.format == Format::Json {
                println!("{}", serde_json::json!({ "reverted": reverted }));
            } else if reverted.is_empty() {
                eprintln!("qcheck: nothing to revert on {}", target.describe());
            } else {
                let list: Vec<String> = reverted.iter().map(|v| format!("{v:04}")).collect();
                eprintln!(
                    "qcheck: reverted migrations {} on {}",
                    list.join(", "),
                    target.describe()
                );
            }
        }
        MigrateCommand::Status => {
            let s = schema::status(&mut client)?;
            if g.format == Format::Json {
                print!("{}", crate::report::json::document(&s));
            } else {
                let rows: Vec<Vec<String>> = s
                    .migrations
                    .iter()
                    .map(|m| {
                        vec![
                            format!("{:04}", m.version),
                            m.name.clone(),
                            m.state.clone(),
                            m.applied_at.clone().unwrap_or_default(),
                            m.checksum.clone(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    report::table(
                        g.format,
                        &["version", "name", "state", "applied at", "checksum"],
                        &rows
                    )
                );
                match &s.strategy {
                    Some(name) => {
                        println!("index strategy: {name} ({})", s.strategy_indexes.join(", "));
                    }
                    None => println!("index strategy: none"),
                }
                for line in s.drift.lines() {
                    println!("{line}");
                }
                if !s.unguarded_partitions.is_empty() {
                    println!(
                        "unguarded partitions of appointment (no exclusion constraint: double bookings \
                         in their months are not refused): {}; add it with {}",
                        s.unguarded_partitions.join(", "),
                        crate::analysis::guard_fix("<partition>")
                    );
                }
            }
        }
    }
    drop(client);
    drop(lock);
    session.close()?;
    Ok(Outcome::Success)
}
