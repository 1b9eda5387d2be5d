//! `qcheck list`, `qcheck explain` and `qcheck check`: the hot queries, one plan in depth, all of
//! them as a CI gate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::args::{QuerySource, SeededDatasetArgs};
use super::run_as::RunAsArgs;
use super::safety::DatasetUse;
use super::{Global, Outcome};
use crate::analysis::{PlanCheck, QueryCheck, SchemaFinding};
use crate::baseline::{Comparison, ServerIdentity};
use crate::catalog::{ExpectLine, Query};
use crate::db::{Session, Target};
use crate::error::{Error, IoContext, Result};
use crate::generate::{self, DatasetLock, DatasetMeta};
use crate::plan::{Form, MAX_PLAN_FILE_BYTES, Mode, PartitionMap, Plan};
use crate::report::{self, Format};
use crate::runner::{RunAs, Runner};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The query to explain (see `qcheck list`).
    #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
    pub query: Option<String>,
    /// Override a parameter: --param day=2026-03-02 (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Show the generic plan (plan_cache_mode = force_generic_plan) instead of the custom one. With
    /// --plan: the file holds a generic plan (also read from its Settings when it has them).
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
    /// With --plan: the partition map of the plan's database (`qcheck partitions` prints it), so
    /// partitions and their indexes count for their parent table and index.
    #[arg(long, value_name = "MAP.json", requires = "plan")]
    pub partitions: Option<PathBuf>,
    /// Let expectations the plan cannot decide (rounded row counts, a partition index without a
    /// map, no ANALYZE data) pass instead of failing; they are still reported as undecided.
    #[arg(long)]
    pub allow_undecided: bool,
    /// With --plan: when the file holds several statements' plans (a rule's DO ALSO, a log of
    /// several auto_explain records), show only the N-th (1-based); needed with --expect-from.
    #[arg(long, value_name = "N", requires = "plan", value_parser = clap::value_parser!(u32).range(1..))]
    pub statement: Option<u32>,
    #[command(flatten)]
    pub dataset: SeededDatasetArgs,
    #[command(flatten)]
    pub source: QuerySource,
    #[command(flatten)]
    pub run_as: RunAsArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only these queries (repeatable). Default: all.
    #[arg(long = "query", value_name = "NAME")]
    pub names: Vec<String>,
    /// Let expectations a plan cannot decide (e.g. row counts rounded over many loops) pass
    /// instead of failing; they are still reported as undecided.
    #[arg(long)]
    pub allow_undecided: bool,
    #[command(flatten)]
    pub dataset: SeededDatasetArgs,
    #[command(flatten)]
    pub source: QuerySource,
    #[command(flatten)]
    pub run_as: RunAsArgs,
    #[command(flatten)]
    pub baseline: super::diff::BaselineArgs,
}

fn parse_param(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
}

/// Prints a verdict report (with `findings`, see [`SchemaFinding`]) in `--format junit` or
/// `github`; false (nothing printed) for the other formats. GitHub:
/// the annotations, then `text` (the table output) for the log, and `summary` (Markdown, under a
/// `## qcheck check` heading) appended to the file `GITHUB_STEP_SUMMARY` names, when it is set.
fn print_ci(
    g: &Global,
    suite: &str,
    cases: &[report::junit::Case],
    findings: &[SchemaFinding],
    text: impl FnOnce() -> String,
    summary: impl FnOnce() -> String,
) -> Result<bool> {
    match g.format {
        Format::Junit => print!("{}", report::junit::render(suite, cases, findings)),
        Format::Github => {
            let workspace = std::env::current_dir().ok();
            print!(
                "{}",
                report::github::annotations(cases, findings, workspace.as_deref())
            );
            print!("{}", text());
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
                use std::io::Write;
                let path = PathBuf::from(path);
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .at(&path)?;
                let section = format!("## {suite}\n\n{}\n", summary());
                file.write_all(section.as_bytes()).at(&path)?;
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Opens the target and takes the dataset lock shared for the command's run (see
/// `generate::lock`); for the built-in queries, also makes sure the requested dataset is there:
/// seeds the embedded cluster when needed, and on a server the user named fails unless it holds it.
/// Drop the lock before closing the session.
fn open(
    g: &Global,
    dataset: &SeededDatasetArgs,
    source: &QuerySource,
) -> Result<(Session, DatasetLock)> {
    // Validate the request before starting anything.
    dataset.request()?;
    open_on(g, &Target::resolve(&g.target_options())?, dataset, source)
}

/// [`open`] on a given target (`check` on several PostgreSQL versions opens one per version).
pub(super) fn open_on(
    g: &Global,
    target: &Target,
    dataset: &SeededDatasetArgs,
    source: &QuerySource,
) -> Result<(Session, DatasetLock)> {
    let request = dataset.request()?;
    let session = target.open()?;
    let lock = match &source.queries {
        Some(dir) => DatasetLock::shared(
            &session,
            &format!("running the queries of {}", dir.display()),
        )?,
        None => super::safety::require_dataset(
            g,
            &session,
            &request,
            &dataset.dataset,
            &dataset.strategy,
            DatasetUse::Read,
        )?,
    };
    Ok((session, lock))
}

pub(super) fn list(g: &Global, source: &QuerySource) -> Result<Outcome> {
    let catalog = source.catalog()?;
    print!(
        "{}",
        report::list::queries_in(g.format, &catalog.queries, g.layout().width)
    );
    Ok(Outcome::Success)
}

pub(super) fn explain(g: &Global, args: &ExplainArgs) -> Result<Outcome> {
    if let Some(plan_file) = &args.plan {
        return explain_offline(g, plan_file, args);
    }
    let catalog = args.source.catalog()?;
    let query = catalog.get(args.query.as_deref().unwrap_or_default())?;
    let (session, lock) = open(g, &args.dataset, &args.source)?;
    let mut client = session.connect()?;
    let run_as = RunAs::resolve(&mut client, &args.run_as.request())?;
    let mut runner = Runner::new(&mut client, run_as);
    let roots = runner.partition_roots()?;
    let partitions = PartitionMap::from_catalog(roots.clone());
    let mut result = runner.check(query, &args.params, &partitions)?;
    if args.allow_undecided {
        result.allow_undecided();
    }
    drop(client);
    drop(lock);
    session.close()?;

    let shown = if args.generic {
        &result.generic
    } else {
        &result.custom
    };
    if let Some(path) = &args.save_plan {
        save_plans(path, &[shown], Some(&roots))?;
    }
    let layout = g.layout();
    let cases = report::junit::Case::of_query(&result);
    if g.format == Format::Json {
        print!("{}", report::json::document(&result));
    } else if !print_ci(
        g,
        "qcheck explain",
        &cases,
        &[],
        || report::check::explain_query(&result, args.generic, Format::Table, layout),
        || report::check::explain_query(&result, args.generic, Format::Markdown, layout),
    )? {
        print!(
            "{}",
            report::check::explain_query(&result, args.generic, g.format, layout)
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

fn explain_offline(g: &Global, plan_file: &Path, args: &ExplainArgs) -> Result<Outcome> {
    let text = crate::files::read_text(plan_file, MAX_PLAN_FILE_BYTES, "a plan file")?;
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
    let selected: Vec<(usize, Plan)> = match args.statement {
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
        None if args.expect_from.is_some() && count > 1 => {
            return Err(Error::Usage(format!(
                "{}: holds {count} statements, so --expect-from needs --statement N to say which \
                 plan the expectations apply to: {}",
                plan_file.display(),
                list()
            )));
        }
        None => (1..=count).zip(plans).collect(),
    };
    let query = match &args.expect_from {
        Some(path) => Some(crate::catalog::parse(
            path,
            &crate::files::read_text(path, crate::files::MAX_QUERY_FILE_BYTES, "a query file")?,
        )?),
        None => None,
    };
    let partitions = match &args.partitions {
        Some(path) => Some(read_partition_map(path)?),
        None => None,
    };
    let mut checks = Vec::with_capacity(selected.len());
    for (n, parsed) in selected {
        let (mode, why) = offline_mode(&parsed, args.generic);
        let expectations: Vec<&ExpectLine> = query
            .iter()
            .flat_map(|q| q.expects.iter().filter(|e| e.applies_to(mode)))
            .collect();
        if let Some(q) = &query
            && expectations.is_empty()
        {
            // A gate that checked nothing must not pass.
            return Err(Error::Usage(format!(
                "{}: no expectation of {} applies to a {mode} plan ({why}), so there is nothing \
                 to check; {}",
                plan_file.display(),
                q.path.display(),
                if mode == Mode::Custom {
                    "pass --generic if the plan is a generic one"
                } else {
                    "drop --generic if the plan is a custom one"
                }
            )));
        }
        let exempt =
            mode == Mode::Generic && query.as_ref().is_some_and(|q| q.generic_exempt.is_some());
        let mut check = analyse_offline(parsed, mode, &expectations, partitions.as_ref(), exempt);
        check.allow_undecided = args.allow_undecided;
        checks.push((n, check));
    }
    if let Some(path) = &args.save_plan {
        let shown: Vec<&PlanCheck> = checks.iter().map(|(_, c)| c).collect();
        save_plans(path, &shown, None)?;
    }
    let layout = g.layout();
    let form = if form == Form::Json {
        String::new()
    } else {
        format!(" ({})", form.describe())
    };
    let title = |n: usize| {
        let which = if count > 1 {
            format!(", statement {n} of {count}")
        } else {
            String::new()
        };
        format!("Plan from {}{form}{which}", plan_file.display())
    };
    let rendered = |format: Format| {
        let mut out = String::new();
        for (i, (n, plan)) in checks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&report::check::explain_plan(
                &title(*n),
                plan,
                format,
                layout,
            ));
        }
        out
    };
    let file_name = plan_file.file_name().map_or_else(
        || plan_file.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let cases: Vec<report::junit::Case> = checks
        .iter()
        .map(|(n, plan)| {
            let query = if count > 1 {
                format!("{file_name} statement {n}")
            } else {
                file_name.clone()
            };
            report::junit::Case {
                name: format!(
                    "{query} ({} plan)",
                    plan.mode.map_or("unknown-mode", Mode::as_str)
                ),
                query,
                file: args.expect_from.as_ref().map(|p| p.display().to_string()),
                plan,
                exempt_reason: None,
            }
        })
        .collect();
    if g.format == Format::Json {
        #[derive(serde::Serialize)]
        struct Statements<'a> {
            statements: Vec<&'a PlanCheck>,
        }
        let text = if let [(_, only)] = checks.as_slice() {
            report::json::document(only)
        } else {
            report::json::document(Statements {
                statements: checks.iter().map(|(_, c)| c).collect(),
            })
        };
        print!("{text}");
    } else if !print_ci(
        g,
        "qcheck explain",
        &cases,
        &[],
        || rendered(Format::Table),
        || rendered(Format::Markdown),
    )? {
        print!("{}", rendered(g.format));
    }
    Ok(if checks.iter().all(|(_, c)| c.passed()) {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}

/// The plan mode of an offline plan, and why: `--generic`, else the plan's own `Settings`
/// (`plan_cache_mode`, printed by `EXPLAIN (SETTINGS)` when not the default), else custom (a plan
/// captured with literal values is a custom plan).
fn offline_mode(plan: &Plan, generic: bool) -> (Mode, &'static str) {
    if generic {
        return (Mode::Generic, "--generic");
    }
    match plan.setting("plan_cache_mode") {
        Some("force_generic_plan") => (
            Mode::Generic,
            "its Settings say plan_cache_mode = force_generic_plan",
        ),
        Some("force_custom_plan") => (
            Mode::Custom,
            "its Settings say plan_cache_mode = force_custom_plan",
        ),
        _ => (
            Mode::Custom,
            "taken as custom: no --generic and no plan_cache_mode in its Settings",
        ),
    }
}

/// Reads a `--partitions` map: the JSON object `qcheck partitions` prints (`child: parent`).
pub(super) fn read_partition_map(path: &Path) -> Result<PartitionMap> {
    let text = crate::files::read_text(
        path,
        crate::files::MAX_PARTITION_MAP_BYTES,
        "a partition map",
    )?;
    let map: BTreeMap<String, String> = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Error::InputFile {
        path: path.to_path_buf(),
        message: format!(
            "not a partition map ({e}); expected the JSON object `qcheck partitions` prints, \
                 {{\"partition\": \"parent\", ...}}"
        ),
    })?;
    Ok(PartitionMap::from_catalog(map))
}

/// Analyses one offline plan against `expectations` with the best partition map there is: the one
/// given with `--partitions`, else the one `--save-plan` stored in the plan (an extra top-level key,
/// which the plan reader keeps), else a guess from the relation names the expectations use (see
/// plan::partition).
fn analyse_offline(
    parsed: Plan,
    mode: Mode,
    expectations: &[&ExpectLine],
    given: Option<&PartitionMap>,
    exempt: bool,
) -> PlanCheck {
    let partitions = offline_partitions(&parsed, given, || {
        let named: Vec<_> = expectations.iter().map(|e| e.expectation.clone()).collect();
        PartitionMap::heuristic(crate::expect::relations_named(&named))
    });
    PlanCheck::analyse(parsed, Some(mode), expectations, &partitions, exempt)
}

/// The partition map for a plan read from a file: the one given (`--partitions`), else the one
/// `--save-plan` stored in the plan (an extra top-level key, which the plan reader keeps), else
/// `fallback()`.
pub(super) fn offline_partitions(
    plan: &Plan,
    given: Option<&PartitionMap>,
    fallback: impl FnOnce() -> PartitionMap,
) -> PartitionMap {
    if let Some(map) = given {
        return map.clone();
    }
    let saved: Option<BTreeMap<String, String>> = plan
        .extra
        .get(SAVED_PARTITIONS_KEY)
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    saved.map_or_else(fallback, PartitionMap::from_catalog)
}

/// The line above `check`'s table: who the plans were checked as, with which tenant, where:
/// `Checked as role qcheck_app (row-level security on), app.tenant_id = 0c4f… (6 queries), 9a1e…
/// (4 queries), on embedded PostgreSQL 15.18 in /root/.cache/qcheck`.
fn checked_as(run_as: &RunAs, results: &[QueryCheck], target: &str) -> String {
    let mut who = run_as.describe();
    if run_as.role.is_some() && run_as.tenant.is_none() {
        // The tenants the queries' parameters picked, most used first.
        let mut tenants: Vec<(&str, usize)> = Vec::new();
        for t in results.iter().filter_map(|r| r.params.tenant.as_deref()) {
            match tenants.iter_mut().find(|(seen, _)| *seen == t) {
                Some((_, n)) => *n += 1,
                None => tenants.push((t, 1)),
            }
        }
        tenants.sort_by_key(|t| std::cmp::Reverse(t.1));
        if !tenants.is_empty() {
            let list: Vec<String> = tenants
                .iter()
                .map(|(t, n)| format!("{t} ({n} quer{})", if *n == 1 { "y" } else { "ies" }))
                .collect();
            who = format!("{who} ({})", list.join(", "));
        }
    }
    format!("Checked {who}, on {target}")
}

/// The JSON document of `qcheck check --format json` (on several versions, one per version).
#[derive(serde::Serialize)]
pub(super) struct CheckDocument<'a> {
    passed: bool,
    target: &'a str,
    /// Who the plans were captured as (each query's tenant is in its `params`).
    run_as: &'a RunAs,
    dataset: Option<&'a DatasetMeta>,
    queries: Vec<CheckedQuery<'a>>,
    /// Promises of the data model the database does not keep (each fails the check).
    schema_findings: &'a [SchemaFinding],
    /// With `--baseline`: the comparison's headline figures (per query under `queries`).
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineSummary<'a>>,
}

/// A query of `check --format json`: the check, and with `--baseline` its comparison.
#[derive(serde::Serialize)]
struct CheckedQuery<'a> {
    #[serde(flatten)]
    check: &'a QueryCheck,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a crate::baseline::QueryComparison>,
}

/// `check --format json`'s top-level `baseline`: the comparison without its per-query part.
#[derive(serde::Serialize)]
struct BaselineSummary<'a> {
    file: &'a Path,
    passed: bool,
    changed_plans: usize,
    compared_plans: usize,
    thresholds: crate::baseline::Thresholds,
    notes: &'a [String],
}

/// What `check` found on one server: the checks, the partition map and dataset they ran with, the
/// server, and the comparison with `--baseline` when asked for.
pub(super) struct CheckRun {
    /// One per selected query, in order.
    pub(super) results: Vec<QueryCheck>,
    /// Promises of the data model the database does not keep: leaves of `appointment` without
    /// their exclusion constraint (read with `schema::unguarded_partitions`, as `migrate status`
    /// does).
    pub(super) findings: Vec<SchemaFinding>,
    /// The server's partition map (folds partitions in signatures).
    pub(super) partitions: PartitionMap,
    /// The dataset record, when the database has one.
    pub(super) dataset: Option<DatasetMeta>,
    /// The server's version.
    pub(super) server: ServerIdentity,
    /// The target, described without a password.
    pub(super) target: String,
    /// Who the plans were captured as.
    pub(super) run_as: RunAs,
    /// With `--baseline`: the comparison.
    pub(super) comparison: Option<Comparison>,
}

impl CheckRun {
    /// Every expectation held, the schema keeps its promises and, with `--baseline`, no plan
    /// changed.
    pub(super) fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
            && self.findings.is_empty()
            && self.comparison.as_ref().is_none_or(|c| c.passed)
    }

    /// The run as `check --format json` writes it.
    pub(super) fn document<'a>(&'a self, args: &'a CheckArgs) -> CheckDocument<'a> {
        let comparison = self.comparison.as_ref();
        CheckDocument {
            passed: self.passed(),
            target: &self.target,
            run_as: &self.run_as,
            dataset: self.dataset.as_ref(),
            queries: self
                .results
                .iter()
                .map(|check| CheckedQuery {
                    check,
                    baseline: comparison.and_then(|c| c.query(&check.name)),
                })
                .collect(),
            schema_findings: &self.findings,
            baseline: comparison.map(|c| {
                let (changed_plans, compared_plans) = c.changed_plans();
                BaselineSummary {
                    file: args.baseline.baseline.as_deref().unwrap_or(Path::new("")),
                    passed: c.passed,
                    changed_plans,
                    compared_plans,
                    thresholds: c.thresholds,
                    notes: &c.notes,
                }
            }),
        }
    }
}

/// Runs the selected queries on an open session (closing it when done) under its dataset lock
/// (released once the queries ran), with the baseline hooks.
pub(super) fn run_checks(
    session: Session,
    lock: DatasetLock,
    args: &CheckArgs,
    selected: &[&Query],
    baseline: &mut super::diff::Hooks,
) -> Result<CheckRun> {
    let mut client = session.connect()?;
    let dataset = generate::current_dataset(&mut client)?;
    let server = super::diff::server_identity(&mut client)?;
    baseline.identify(dataset.as_ref(), &server)?;
    let run_as = RunAs::resolve(&mut client, &args.run_as.request())?;
    let mut runner = Runner::new(&mut client, run_as.clone());
    let partitions = runner.partition_map()?;
    let mut results = Vec::with_capacity(selected.len());
    for query in selected {
        let mut checked = runner.check(query, &[], &partitions)?;
        if args.allow_undecided {
            checked.allow_undecided();
        }
        results.push(checked);
    }
    // Read-only, like everything `check` does on a server the user named.
    let findings = crate::schema::unguarded_partitions(&mut client)?
        .iter()
        .map(|leaf| SchemaFinding::unguarded_partition(leaf))
        .collect();
    // A user's own Citus coordinator says so (version, workers) in the target line.
    let target = crate::topology::describe_connected(&session.target, &mut client)?;
    drop(client);
    drop(lock);
    session.close()?;
    let comparison = baseline.finish(&results, &partitions)?;
    Ok(CheckRun {
        results,
        findings,
        partitions,
        dataset,
        server,
        target,
        run_as,
        comparison,
    })
}

pub(super) fn check(g: &Global, args: &CheckArgs) -> Result<Outcome> {
    if g.pg_bin_dir.len() > 1 {
        return super::versions::check(g, args);
    }
    let catalog = args.source.catalog()?;
    let selected = catalog.select(&args.names)?;
    super::diff::refuse_unused_thresholds(&args.baseline)?;
    let mut baseline = super::diff::Hooks::read(&args.baseline)?;
    let (session, lock) = open(g, &args.dataset, &args.source)?;
    let run = run_checks(session, lock, args, &selected, &mut baseline)?;
    let width = g.layout().width;
    if g.format == Format::Json {
        print!("{}", report::json::document(run.document(args)));
    } else {
        if !g.format.verdicts_only() {
            let line = checked_as(&run.run_as, &run.results, &run.target);
            if g.format == Format::Markdown {
                println!("{line}");
            } else {
                print!("{}", report::text::wrapped(&line, width, "", "    "));
            }
            if g.format == Format::Markdown {
                println!();
            }
        }
        let ci = print_ci(
            g,
            "qcheck check",
            &report::junit::Case::of_queries(&run.results),
            &run.findings,
            || {
                report::check::summary_in(&run.results, Format::Table, width)
                    + &report::check::findings(&run.findings, Format::Table, width)
            },
            || {
                report::check::summary(&run.results, Format::Markdown)
                    + &report::check::findings(&run.findings, Format::Markdown, width)
            },
        )?;
        if !ci {
            print!(
                "{}{}",
                report::check::summary_in(&run.results, g.format, width),
                report::check::findings(&run.findings, g.format, width)
            );
        }
        // The baseline comparison follows the verdicts, except in JUnit, whose output must stay
        // one XML document (a changed plan still makes the exit code 1).
        if let Some(c) = run
            .comparison
            .as_ref()
            .filter(|_| g.format != Format::Junit)
        {
            println!();
            print!(
                "{}",
                report::diff::comparison(c, g.format, g.layout().color)
            );
        }
    }
    Ok(if run.passed() {
        Outcome::Success
    } else {
        Outcome::ExpectationFailed
    })
}
