//! `qcheck list`, `qcheck explain` and `qcheck check`: the hot queries, one plan in depth, all of
//! them as a CI gate.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::args::{QuerySource, SeededDatasetArgs};
use super::{Global, Outcome};
use crate::analysis::{PlanCheck, QueryCheck};
use crate::db::{Session, Target};
use crate::error::{Error, IoContext, Result};
use crate::generate;
use crate::plan::{Form, MAX_PLAN_FILE_BYTES, Mode, PartitionMap, Plan};
use crate::report::{self, Format};
use crate::runner::Runner;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The query to explain (see `qcheck list`).
    #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
    pub query: Option<String>,
    /// Override a parameter: --param day=2026-03-02 (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Show the generic plan (plan_cache_mode = force_generic_plan) instead of the custom one.
    #[arg(long)]
    pub generic: bool,
    /// Write the shown plan's raw EXPLAIN JSON here (loadable by PEV2 / explain.dalibo.com).
    #[arg(long, value_name = "FILE")]
    pub save_plan: Option<PathBuf>,
    /// Analyse a saved plan (EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) output) offline: no database.
    /// Also reads it pasted from psql (aligned, unaligned, expanded) or auto_explain logs (stderr,
    /// csvlog, jsonlog); at most 256 MiB.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// With --plan: check the expectations of this query file.
    #[arg(long, value_name = "QUERY.sql", requires = "plan")]
    pub expect_from: Option<PathBuf>,
    /// With --plan: when the file holds several statements' plans (a rule's DO ALSO, a log of
    /// several auto_explain records), show only the N-th (1-based); needed with --expect-from.
    #[arg(long, value_name = "N", requires = "plan", value_parser = clap::value_parser!(u32).range(1..))]
    pub statement: Option<u32>,
    #[command(flatten)]
    pub dataset: SeededDatasetArgs,
    #[command(flatten)]
    pub source: QuerySource,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only these queries (repeatable). Default: all.
    #[arg(long = "query", value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub dataset: SeededDatasetArgs,
    #[command(flatten)]
    pub source: QuerySource,
}

fn parse_param(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Opens the target and, for the built-in queries, makes sure the requested dataset is there.
fn open(g: &Global, dataset: &SeededDatasetArgs, source: &QuerySource) -> Result<Session> {
    // Validate the request before starting anything.
    let request = dataset.request()?;
    let target = Target::resolve(&g.target_options())?;
    let session = target.open()?;
    if source.queries.is_none() {
        generate::ensure_seeded(&session, &request, &g.progress())?;
    }
    Ok(session)
}

pub(super) fn list(g: &Global, source: &QuerySource) -> Result<Outcome> {
    let catalog = source.catalog()?;
    print!("{}", report::list::queries(g.format, &catalog.queries));
    Ok(Outcome::Success)
}

pub(super) fn explain(g: &Global, args: &ExplainArgs) -> Result<Outcome> {
    if let Some(plan_file) = &args.plan {
        return explain_offline(
            g,
            plan_file,
            args.expect_from.as_deref(),
            args.statement,
            args.save_plan.as_deref(),
        );
    }
    let catalog = args.source.catalog()?;
    let query = catalog.get(args.query.as_deref().unwrap_or_default())?;
    let session = open(g, &args.dataset, &args.source)?;
    let mut client = session.connect()?;
    let mut runner = Runner::new(&mut client);
    let roots = runner.partition_roots()?;
    let partitions = PartitionMap::from_catalog(roots.clone());
    let result = runner.check(query, &args.params, &partitions)?;
    drop(client);
    session.close()?;

    let shown = if args.generic {
        &result.generic
    } else {
        &result.custom
    };
    if let Some(path) = &args.save_plan {
        save_plans(path, &[shown], Some(&roots))?;
    }
    if g.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).expect("check serializes")
        );
    } else {
        print!(
            "{}",
            report::check::explain_query(&result, args.generic, g.format, color())
        );
    }
    Ok(if result.passed {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}

/// Key under which a saved plan carries the partition tree it was captured on, so that offline
/// analysis can map partition tables and indexes to their parents. Viewers ignore unknown keys.
const SAVED_PARTITIONS_KEY: &str = "qcheck partitions";

fn save_plans(
    path: &Path,
    plans: &[&PlanCheck],
    roots: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    let plans: Vec<_> = plans
        .iter()
        .map(|p| {
            let mut plan = p.plan.clone();
            if let Some(roots) = roots {
                plan.extra.insert(
                    SAVED_PARTITIONS_KEY.into(),
                    serde_json::to_value(roots).expect("map serializes"),
                );
            }
            plan
        })
        .collect();
    let text = serde_json::to_string_pretty(&plans).expect("plan serializes");
    std::fs::write(path, text + "\n").at(path)?;
    eprintln!("qcheck: plan written to {}", path.display());
    Ok(())
}

/// Reads a plan file as text, bounded: only a regular file (not a directory, FIFO or device
/// such as `/dev/zero`), at most [`MAX_PLAN_FILE_BYTES`], valid UTF-8.
fn read_plan_file(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let limit = MAX_PLAN_FILE_BYTES;
    let too_big = || {
        Error::Usage(format!(
            "{}: larger than {} MiB, the limit for a plan file",
            path.display(),
            limit / (1024 * 1024)
        ))
    };
    let meta = std::fs::metadata(path).at(path)?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "{}: not a regular file; --plan reads a file holding an EXPLAIN (FORMAT JSON) plan",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .at(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .at(path)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::Usage(format!(
            "{}: not UTF-8 text (invalid byte at offset {}); save the plan as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `1: ModifyTable (orders)`: a statement's number, root node type and first relation.
fn statement_label(n: usize, plan: &Plan) -> String {
    let relation = plan
        .nodes()
        .iter()
        .find_map(|r| r.node.relation_name.clone());
    match relation {
        Some(rel) => format!("{n}: {} ({rel})", plan.root.node_type),
        None => format!("{n}: {}", plan.root.node_type),
    }
}

fn explain_offline(
    g: &Global,
    plan_file: &Path,
    expect_from: Option<&Path>,
    statement: Option<u32>,
    save: Option<&Path>,
) -> Result<Outcome> {
    let text = read_plan_file(plan_file)?;
    let (form, mut plans) = crate::plan::read_plans(&text).map_err(|source| Error::PlanFile {
        path: plan_file.to_path_buf(),
        source,
    })?;
    drop(text);
    let count = plans.len();
    let list = || {
        plans
            .iter()
            .enumerate()
            .map(|(i, p)| statement_label(i + 1, p))
            .collect::<Vec<_>>()
            .join("; ")
    };
    // Which statements to show, as (1-based number, plan).
    let selected: Vec<(usize, Plan)> = match statement {
        Some(n) => {
            let n = n as usize;
            if n > count {
                return Err(Error::Usage(format!(
                    "{}: --statement {n}, but the file holds {count} statement{}: {}",
                    plan_file.display(),
                    if count == 1 { "" } else { "s" },
                    list()
                )));
            }
            vec![(n, plans.swap_remove(n - 1))]
        }
        None if expect_from.is_some() && count > 1 => {
            return Err(Error::Usage(format!(
                "{}: holds {count} statements, so --expect-from needs --statement N to say which \
                 plan the expectations apply to: {}",
                plan_file.display(),
                list()
            )));
        }
        None => (1..=count).zip(plans).collect(),
    };
    let query = match expect_from {
        Some(path) => Some(crate::catalog::parse(
            path,
            &std::fs::read_to_string(path).at(path)?,
        )?),
        None => None,
    };
    // A plan captured elsewhere is usually a custom plan (EXPLAIN with literal values).
    let expectations: Vec<_> = query
        .iter()
        .flat_map(|q| q.expects.iter().filter(|e| e.applies_to(Mode::Custom)))
        .collect();
    let checks: Vec<(usize, PlanCheck)> = selected
        .into_iter()
        .map(|(n, parsed)| (n, analyse_offline(parsed, &expectations)))
        .collect();
    if let Some(path) = save {
        let shown: Vec<&PlanCheck> = checks.iter().map(|(_, c)| c).collect();
        save_plans(path, &shown, None)?;
    }
    if g.format == Format::Json {
        let text = if let [(_, only)] = checks.as_slice() {
            serde_json::to_string_pretty(only)
        } else {
            let all: Vec<&PlanCheck> = checks.iter().map(|(_, c)| c).collect();
            serde_json::to_string_pretty(&all)
        };
        println!("{}", text.expect("plan serializes"));
    } else {
        let form = if form == Form::Json {
            String::new()
        } else {
            format!(" ({})", form.describe())
        };
        for (i, (n, plan)) in checks.iter().enumerate() {
            if i > 0 {
                println!();
            }
            let which = if count > 1 {
                format!(", statement {n} of {count}")
            } else {
                String::new()
            };
            let title = format!("Plan from {}{form}{which}", plan_file.display());
            print!(
                "{}",
                report::check::explain_plan(&title, plan, g.format, color())
            );
        }
    }
    Ok(if checks.iter().all(|(_, c)| c.passed()) {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}

/// Analyses one offline plan against `expectations`, with the partition tree saved in the plan
/// by `--save-plan` (an extra top-level key, which the plan reader keeps), else a guess from the
/// relation names the expectations use (see plan::partition).
fn analyse_offline(parsed: Plan, expectations: &[&crate::catalog::ExpectLine]) -> PlanCheck {
    let saved: Option<BTreeMap<String, String>> = parsed
        .extra
        .get(SAVED_PARTITIONS_KEY)
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    let partitions = if let Some(roots) = saved {
        PartitionMap::from_catalog(roots)
    } else {
        let named: Vec<_> = expectations.iter().map(|e| e.expectation.clone()).collect();
        PartitionMap::heuristic(crate::expect::relations_named(&named))
    };
    PlanCheck::analyse(parsed, None, expectations, &partitions, false)
}

/// The JSON document of `qcheck check --format json`.
#[derive(serde::Serialize)]
struct CheckDocument<'a> {
    passed: bool,
    target: String,
    dataset: Option<crate::generate::DatasetMeta>,
    queries: &'a [QueryCheck],
}

pub(super) fn check(g: &Global, args: &CheckArgs) -> Result<Outcome> {
    let catalog = args.source.catalog()?;
    let selected = catalog.select(&args.names)?;
    let session = open(g, &args.dataset, &args.source)?;
    let mut client = session.connect()?;
    let dataset = generate::current_dataset(&mut client)?;
    let mut runner = Runner::new(&mut client);
    let partitions = runner.partition_map()?;
    let mut results = Vec::with_capacity(selected.len());
    for query in selected {
        results.push(runner.check(query, &[], &partitions)?);
    }
    drop(client);
    let target = session.target.describe();
    session.close()?;

    let passed = results.iter().all(|r| r.passed);
    if g.format == Format::Json {
        let doc = CheckDocument {
            passed,
            target,
            dataset,
            queries: &results,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("check serializes")
        );
    } else {
        print!("{}", report::check::summary(&results, g.format));
    }
    Ok(if passed {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}
