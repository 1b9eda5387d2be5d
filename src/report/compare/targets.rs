//! The report of `qcheck compare` on several targets (PostgreSQL versions or topologies):
//! `report.md`, `report.html` and `report.json` from one
//! [`TargetComparison`](crate::compare::targets::TargetComparison).
//!
//! A reader of such a report asks "what changes if we move": so it opens with the targets side by
//! side (latency of every query with its ratio to the first target, verdicts, write and contention
//! rates, seed time) and the plans that differ between them, and then gives each target's full
//! strategy report, exactly as a single-target run writes it. Ratios are to the first target, the
//! one the user named first (the current server, by convention); a ratio whose round ranges
//! overlap is marked `≈` (same within noise), as between strategies.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Document, writes_cells};
use crate::compare::model::{Latency, QueryResult, StrategyResult};
use crate::compare::targets::{TargetComparison, TargetKind, TargetRun};
use crate::report::fmt::{self, bytes, sig3};
use crate::report::{Format, html_escape as escape, markdown_table};

/// The prepared-statement latency target of a scaled-out topology (issue 13): a tenant-scoped
/// query through the coordinator within this factor of the single node's p50. Reported, never
/// asserted.
pub const COORDINATOR_TARGET: f64 = 2.0;

/// `qcheck compare across topologies: single vs citus-2`.
pub fn title(tc: &TargetComparison) -> String {
    let names: Vec<&str> = tc.targets.iter().map(|t| t.name.as_str()).collect();
    let across = match tc.kind {
        TargetKind::Version => "PostgreSQL versions",
        TargetKind::Topology => "topologies",
    };
    format!("qcheck compare across {across}: {}", names.join(" vs "))
}

/// The first target's strategy that every figure across targets is read under: its base strategy
/// (`--base`, default the first compared).
fn base_strategy(tc: &TargetComparison) -> Option<&str> {
    tc.targets.first().map(|t| t.comparison.base.as_str())
}

fn strategy<'a>(t: &'a TargetRun, name: &str) -> Option<&'a StrategyResult> {
    t.comparison.strategies.iter().find(|s| s.name == name)
}

/// `×2.1` of `later` against `first`; `≈` when their round ranges overlap (same within noise).
fn versus(later: &Latency, first: &Latency) -> String {
    if first.p50_ms <= 0.0 {
        return fmt::MISSING.into();
    }
    let r = later.p50_ms / first.p50_ms;
    let separated = later.p50_rounds.separated(&first.p50_rounds).is_some()
        || (later.p50_rounds.is_empty() && first.p50_rounds.is_empty());
    format!("{}{}", if separated { "" } else { "≈" }, fmt::ratio(r))
}

/// Per later target, under the base strategy: how many queries' prepared (generic-plan) p50 lies
/// within [`COORDINATOR_TARGET`] of the first target's, of how many, and the median ratio.
pub fn within_target(tc: &TargetComparison, t: &TargetRun) -> Option<(usize, usize, f64)> {
    let name = base_strategy(tc)?;
    let first = strategy(tc.targets.first()?, name)?;
    let s = strategy(t, name)?;
    let mut ratios: Vec<f64> = s
        .queries
        .iter()
        .filter_map(|q| {
            let f = first.query(&q.name)?;
            (f.generic.latency.p50_ms > 0.0)
                .then(|| q.generic.latency.p50_ms / f.generic.latency.p50_ms)
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let within = ratios.iter().filter(|r| **r <= COORDINATOR_TARGET).count();
    Some((within, ratios.len(), ratios[ratios.len() / 2]))
}

/// Issue 13's coordinator target on one later target of a topology comparison, under the base
/// strategy: every plan (custom and generic) of every query timed on both targets, its p50 here
/// against the first target's. The coordinator adds a floor of fixed cost per query, and to a
/// generic plan also the worker's planning (it plans the text it receives every time), so the added
/// milliseconds say more than the ratio: a query is within the target only when it costs at least
/// that much on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoordinatorTarget {
    /// The later target (`citus-2`).
    pub target: String,
    /// The target it is measured against (the first: `single`).
    pub against: String,
    /// Plans whose p50 is within [`COORDINATOR_TARGET`] of the first target's.
    pub within: usize,
    /// Plans compared: two per query (custom and generic).
    pub plans: usize,
    /// Median over the plans of this target's p50 minus the first target's, ms.
    pub median_added_ms: f64,
    /// Median over the plans of the p50 ratio.
    pub median_ratio: f64,
    /// The queries both of whose plans are within the target, in the first target's order.
    pub queries_within: Vec<String>,
}

/// The median of `v` (the mean of the two middle values for an even count); `None` when empty.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// [`CoordinatorTarget`] of `t` against the first target; `None` for a comparison across versions
/// or when no plan was timed on both (the first target itself included).
pub fn coordinator_target(tc: &TargetComparison, t: &TargetRun) -> Option<CoordinatorTarget> {
    if tc.kind != TargetKind::Topology {
        return None;
    }
    let name = base_strategy(tc)?;
    let first_run = tc.targets.first()?;
    if first_run.name == t.name {
        return None;
    }
    let (first, s) = (strategy(first_run, name)?, strategy(t, name)?);
    let (mut ratios, mut added, mut queries_within) = (Vec::new(), Vec::new(), Vec::new());
    for f in &first.queries {
        let Some(q) = s.query(&f.name) else { continue };
        let mut all_within = true;
        for (here, there) in [
            (&q.custom.latency, &f.custom.latency),
            (&q.generic.latency, &f.generic.latency),
        ] {
            if there.p50_ms <= 0.0 || here.p50_ms <= 0.0 {
                all_within = false;
                continue;
            }
            let r = here.p50_ms / there.p50_ms;
            all_within &= r <= COORDINATOR_TARGET;
            ratios.push(r);
            added.push(here.p50_ms - there.p50_ms);
        }
        if all_within {
            queries_within.push(f.name.clone());
        }
    }
    let plans = ratios.len();
    Some(CoordinatorTarget {
        target: t.name.clone(),
        against: first_run.name.clone(),
        within: ratios.iter().filter(|r| **r <= COORDINATOR_TARGET).count(),
        plans,
        median_ratio: median(ratios)?,
        median_added_ms: median(added)?,
        queries_within,
    })
}

/// Every later target's [`CoordinatorTarget`] (none across versions).
pub fn coordinator_targets(tc: &TargetComparison) -> Vec<CoordinatorTarget> {
    tc.targets
        .iter()
        .filter_map(|t| coordinator_target(tc, t))
        .collect()
}

/// `citus-2: coordinator within 2× of single's p50 (issue 13's target): 6 of 20 plans (both plans
/// of patient_name_search); median added latency 542 µs, median 3.92×`.
pub fn coordinator_line(c: &CoordinatorTarget) -> String {
    let queries = if c.queries_within.is_empty() {
        "no query with both plans".to_string()
    } else {
        format!("both plans of {}", c.queries_within.join(", "))
    };
    format!(
        "{}: coordinator within {COORDINATOR_TARGET}× of {}'s p50 (issue 13's target): {} of {} \
         plans ({queries}); median added latency {}, median {}",
        c.target,
        c.against,
        c.within,
        c.plans,
        fmt::duration_ms(c.median_added_ms),
        fmt::ratio(c.median_ratio)
    )
}

/// One sentence per later target: plan differences, the prepared p50 against the first target,
/// bookings/s against the first target.
pub fn headline(tc: &TargetComparison) -> String {
    let Some(first) = tc.targets.first() else {
        return String::new();
    };
    let base = base_strategy(tc).unwrap_or_default();
    let mut parts = Vec::new();
    for t in tc.targets.iter().skip(1) {
        let (changed, compared) = tc
            .diffs
            .iter()
            .filter(|d| d.to == t.name)
            .fold((0, 0), |(c, n), d| {
                (c + d.changed_plans, n + d.compared_plans)
            });
        let mut s = format!(
            "{} against {}: {changed} of {compared} plans differ",
            t.name, first.name
        );
        if let Some((within, n, median)) = within_target(tc, t) {
            let _ = write!(
                s,
                "; prepared p50 under `{base}` {} of {}'s (median of {n} queries), {within} of \
                 {n} within {}×",
                fmt::ratio(median),
                first.name,
                COORDINATOR_TARGET
            );
        }
        if let (Some(a), Some(b)) = (strategy(first, base), strategy(t, base)) {
            let missing = a
                .queries
                .iter()
                .filter(|q| b.query(&q.name).is_none())
                .count();
            if missing > 0 {
                let _ = write!(
                    s,
                    "; {missing} of {} queries could not run there (see the notes)",
                    a.queries.len()
                );
            }
            let (x, y) = (a.writes.bookings.per_sec, b.writes.bookings.per_sec);
            if x > 0.0 {
                let same = b
                    .writes
                    .bookings
                    .per_sec_spread
                    .separated(&a.writes.bookings.per_sec_spread)
                    .is_none();
                let _ = write!(
                    s,
                    "; bookings/s {}{}",
                    fmt::ratio(y / x),
                    if same { " (same within noise)" } else { "" }
                );
            }
        }
        parts.push(s);
    }
    parts.join(". ")
}

/// One row per target: server, seeding, plans passing per strategy, bookings/s and wall time.
pub fn summary_rows(tc: &TargetComparison) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "target",
        "server",
        "seeding",
        "plans passing",
        "bookings/s (base strategy)",
        "dataset digest",
        "wall time",
    ];
    let base = base_strategy(tc).unwrap_or_default();
    let rows = tc
        .targets
        .iter()
        .map(|t| {
            let c = &t.comparison;
            let passing: Vec<String> = c
                .strategies
                .iter()
                .map(|s| {
                    let (p, n) = s.plans_passing();
                    format!("{} {p}/{n}", s.name)
                })
                .collect();
            vec![
                t.name.clone(),
                c.stamp.target.clone(),
                super::seeding(c),
                passing.join(", "),
                strategy(t, base).map_or_else(
                    || fmt::MISSING.into(),
                    |s| writes_cells(&s.writes.bookings)[0].clone(),
                ),
                c.dataset.digest.chars().take(12).collect(),
                fmt::duration_s(c.wall_seconds),
            ]
        })
        .collect();
    (header, rows)
}

/// Per strategy: one row per query of the first target, a cell per target from `cell(position,
/// the first target's result, this target's)`; `-` where the target has no result for it.
fn query_rows(
    tc: &TargetComparison,
    name: &str,
    cell: impl Fn(usize, &QueryResult, &QueryResult) -> String,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["query".to_string()];
    header.extend(tc.targets.iter().map(|t| t.name.clone()));
    let Some(first) = tc.targets.first().and_then(|t| strategy(t, name)) else {
        return (header, Vec::new());
    };
    let rows = first
        .queries
        .iter()
        .map(|q| {
            let mut row = vec![q.name.clone()];
            row.extend(tc.targets.iter().enumerate().map(|(i, t)| {
                strategy(t, name)
                    .and_then(|s| s.query(&q.name))
                    .map_or_else(|| fmt::MISSING.into(), |other| cell(i, q, other))
            }));
            row
        })
        .collect();
    (header, rows)
}

/// Per strategy: one row per query, p50 custom · generic on every target with the ratio to the
/// first target.
fn latency_rows(tc: &TargetComparison, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    query_rows(tc, name, |i, first, other| {
        let mut cell = format!(
            "{} · {} ms",
            sig3(other.custom.latency.p50_ms),
            sig3(other.generic.latency.p50_ms)
        );
        if i > 0 {
            let _ = write!(
                cell,
                " ({} · {})",
                versus(&other.custom.latency, &first.custom.latency),
                versus(&other.generic.latency, &first.generic.latency)
            );
        }
        cell
    })
}

/// Per strategy: one row per query, the verdicts (custom · generic) on every target.
fn verdict_rows(tc: &TargetComparison, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    query_rows(tc, name, |_, _, other| {
        format!(
            "{} · {}",
            super::verdict(&other.custom),
            super::verdict(&other.generic)
        )
    })
}

/// One row per strategy and target: write rates, WAL and index size.
fn write_rows(tc: &TargetComparison) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "strategy",
        "target",
        "bookings/s (range)",
        "WAL/booking",
        "cancellations/s (range)",
        "WAL/cancellation",
        "index size",
    ];
    let mut rows = Vec::new();
    for name in strategy_names(tc) {
        for t in &tc.targets {
            let Some(s) = strategy(t, &name) else {
                continue;
            };
            let [bps, wal_b] = writes_cells(&s.writes.bookings);
            let [cps, wal_c] = writes_cells(&s.writes.cancellations);
            rows.push(vec![
                name.clone(),
                t.name.clone(),
                bps,
                wal_b,
                cps,
                wal_c,
                bytes(s.total_index_bytes as f64),
            ]);
        }
    }
    (header, rows)
}

/// One row per strategy, client count and collision setting: bookings/s on every target, with
/// the ratio to the first.
fn contention_rows(tc: &TargetComparison) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec![
        "strategy".to_string(),
        "clients".into(),
        "collisions".into(),
    ];
    header.extend(tc.targets.iter().map(|t| format!("{} bookings/s", t.name)));
    let mut rows = Vec::new();
    let Some(first) = tc.targets.first() else {
        return (header, rows);
    };
    for name in strategy_names(tc) {
        let Some(ct) = strategy(first, &name).and_then(|s| s.contention.as_ref()) else {
            continue;
        };
        for level in &ct.levels {
            let mut row = vec![
                name.clone(),
                level.clients.to_string(),
                if level.collisions {
                    fmt::percent(ct.collision_share)
                } else {
                    "none".into()
                },
            ];
            for (i, t) in tc.targets.iter().enumerate() {
                let other = strategy(t, &name)
                    .and_then(|s| s.contention.as_ref())
                    .and_then(|c| {
                        c.levels.iter().find(|l| {
                            l.clients == level.clients && l.collisions == level.collisions
                        })
                    });
                row.push(match other {
                    None => fmt::MISSING.into(),
                    Some(o) if i == 0 || level.per_sec <= 0.0 => fmt::si(o.per_sec),
                    Some(o) => format!(
                        "{} ({}{})",
                        fmt::si(o.per_sec),
                        if o.per_sec_spread.separated(&level.per_sec_spread).is_some() {
                            ""
                        } else {
                            "≈"
                        },
                        fmt::ratio(o.per_sec / level.per_sec)
                    ),
                });
            }
            rows.push(row);
        }
    }
    (header, rows)
}

/// The strategies of the first target, in its order.
fn strategy_names(tc: &TargetComparison) -> Vec<String> {
    tc.targets.first().map_or_else(Vec::new, |t| {
        t.comparison
            .strategies
            .iter()
            .map(|s| s.name.clone())
            .collect()
    })
}

fn md_table(header: &[String], rows: &[Vec<String>]) -> String {
    markdown_table(&header.iter().map(String::as_str).collect::<Vec<_>>(), rows)
}

/// The sentence under the latency tables: what the ratios are, and the coordinator target for
/// topologies.
fn latency_legend(tc: &TargetComparison) -> String {
    let first = tc.targets.first().map_or("", |t| t.name.as_str());
    let mut s = format!(
        "p50 of real executions, custom · generic plan (the generic plan is what a prepared \
         statement runs), and in parentheses the ratio to {first}; ≈ marks a ratio whose round \
         ranges overlap (same within noise)."
    );
    if tc.kind == TargetKind::Topology {
        let _ = write!(
            s,
            " Target (reported, not asserted): a tenant-scoped prepared query through the \
             coordinator within {COORDINATOR_TARGET}× the single node's p50 (see the \
             coordinator target above)."
        );
    }
    s
}

/// The paragraph under the coordinator target's heading: what is counted, then one line per
/// later target; `None` across versions.
fn coordinator_lines(tc: &TargetComparison) -> Option<(String, Vec<String>)> {
    let lines: Vec<String> = coordinator_targets(tc)
        .iter()
        .map(coordinator_line)
        .collect();
    (!lines.is_empty()).then(|| {
        (
            format!(
                "Issue 13's target (reported, not asserted): a tenant-scoped prepared query \
                 through the coordinator within {COORDINATOR_TARGET}× the single node's p50. \
                 Counted over every plan (custom and generic) of every query timed on both \
                 targets under `{}`; the added latency is the p50 here minus the first \
                 target's. The coordinator adds a fixed cost per query (a second backend, the \
                 worker parsing and planning the shard query it receives as text, Citus's \
                 planner and executor), and to a generic plan also the planning a single node's \
                 cached plan skips, so only a query that costs at least that much on one node \
                 can be within {COORDINATOR_TARGET}×.",
                base_strategy(tc).unwrap_or_default()
            ),
            lines,
        )
    })
}

/// Every note: the comparison's own, then each target's, named.
fn all_notes(tc: &TargetComparison) -> Vec<String> {
    let mut notes = tc.notes.clone();
    for t in &tc.targets {
        notes.extend(
            t.comparison
                .notes
                .iter()
                .map(|n| format!("{}: {n}", t.name)),
        );
    }
    notes
}

/// Headings of a single-target report one level deeper, outside code blocks, so it nests under
/// its target's heading.
fn demote(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 256);
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `report.md` across targets.
pub fn markdown(tc: &TargetComparison) -> String {
    let mut out = format!("# {}\n\n**{}.**\n\n", title(tc), headline(tc));
    let notes = all_notes(tc);
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "{} notes (queries left out, skipped measurements) are [at the end](#notes).\n",
            notes.len()
        );
    }
    out.push_str("## Targets\n\n");
    let (h, rows) = summary_rows(tc);
    out.push_str(&markdown_table(&h, &rows));
    let _ = writeln!(
        out,
        "\nThe same comparison ran on each target in turn, one server at a time, on the same \
         dataset (profile, scale and seed; the digest shows the rows are the same). Total wall \
         time {}.",
        fmt::duration_s(tc.wall_seconds)
    );
    if let Some((legend, lines)) = coordinator_lines(tc) {
        let _ = writeln!(out, "\n## Coordinator target\n\n{legend}\n");
        for l in &lines {
            let _ = writeln!(out, "- {l}");
        }
    }
    for name in strategy_names(tc) {
        let _ = writeln!(
            out,
            "\n## Latency across targets, strategy `{name}`\n\n{}\n",
            latency_legend(tc)
        );
        let (h, rows) = latency_rows(tc, &name);
        out.push_str(&md_table(&h, &rows));
        let _ = writeln!(
            out,
            "\n## Verdicts across targets, strategy `{name}`\n\nCustom · generic plan: \
             expectations met / declared.\n"
        );
        let (h, rows) = verdict_rows(tc, &name);
        out.push_str(&md_table(&h, &rows));
    }
    out.push_str("\n## Writes across targets\n\n");
    let (h, rows) = write_rows(tc);
    out.push_str(&markdown_table(&h, &rows));
    let (h, rows) = contention_rows(tc);
    if !rows.is_empty() {
        out.push_str(
            "\n## Contention across targets\n\nAnswered bookings per second (booked or refused \
             with 23P01), and the ratio to the first target.\n\n",
        );
        out.push_str(&md_table(&h, &rows));
    }
    out.push_str(
        "\n## Plan differences between targets\n\nEach later target's plans compared with the \
         first target's, strategy by strategy, as `qcheck diff` compares two baselines (plan \
         shape, shared buffers and rows beyond their thresholds). Reported, never judged.\n\n",
    );
    for d in &tc.diffs {
        let _ = writeln!(
            out,
            "### {} → {}, strategy `{}`: {} of {} plans differ\n",
            d.from, d.to, d.strategy, d.changed_plans, d.compared_plans
        );
        out.push_str(&crate::report::diff::comparison(
            &d.comparison,
            Format::Markdown,
            false,
        ));
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for n in &notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    for t in &tc.targets {
        let _ = writeln!(out, "\n## Target {}\n", t.name);
        let one = super::markdown(&t.comparison);
        // The single report's title becomes a subheading: the target heading says where.
        let body = one.split_once('\n').map_or(one.as_str(), |(_, rest)| rest);
        out.push_str(&demote(body));
    }
    out
}

/// A table with owned headers; the columns from `numeric_from` on are right-aligned.
fn html_table(out: &mut String, header: &[String], rows: &[Vec<String>], numeric_from: usize) {
    let numeric: Vec<usize> = (numeric_from..header.len()).collect();
    super::html::table(
        out,
        None,
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        rows,
        &numeric,
    );
}

/// `report.html` across targets: the same sections as the Markdown, then each target's full
/// report (its anchors prefixed with the target's position, so they stay unique).
pub fn html(tc: &TargetComparison) -> String {
    let mut out = String::with_capacity(512 * 1024);
    let _ = writeln!(out, "<p class=\"headline\">{}.</p>", escape(&headline(tc)));
    let notes = all_notes(tc);
    if !notes.is_empty() {
        // Collapsed: a list of left-out queries must not push the figures off the first screen.
        let _ = write!(
            out,
            "<details><summary>{} notes (queries left out, skipped measurements)</summary>",
            notes.len()
        );
        for n in &notes {
            let _ = write!(out, "<p class=\"stamp\">{}</p>", escape(n));
        }
        out.push_str("</details>\n");
    }
    out.push_str("<nav>");
    for (i, t) in tc.targets.iter().enumerate() {
        let _ = write!(out, "<a href=\"#t{i}\">{}</a>", escape(&t.name));
    }
    out.push_str("<a href=\"#plan-diffs\">Plan differences</a></nav>\n<h2>Targets</h2>\n");
    let (h, rows) = summary_rows(tc);
    super::html::table(&mut out, None, &h, &rows, &[4, 6]);
    if let Some((legend, lines)) = coordinator_lines(tc) {
        let _ = writeln!(
            out,
            "<h2>Coordinator target</h2>\n<p>{}</p>",
            escape(&legend)
        );
        out.push_str("<ul>");
        for l in &lines {
            let _ = write!(out, "<li>{}</li>", escape(l));
        }
        out.push_str("</ul>\n");
    }
    for name in strategy_names(tc) {
        let _ = writeln!(
            out,
            "<h2>Latency across targets, strategy <code>{}</code></h2>\n<p>{}</p>",
            escape(&name),
            escape(&latency_legend(tc))
        );
        let (h, rows) = latency_rows(tc, &name);
        html_table(&mut out, &h, &rows, 1);
        let _ = writeln!(
            out,
            "<h2>Verdicts across targets, strategy <code>{}</code></h2>",
            escape(&name)
        );
        let (h, rows) = verdict_rows(tc, &name);
        html_table(&mut out, &h, &rows, h.len());
    }
    out.push_str("<h2>Writes across targets</h2>\n");
    let (h, rows) = write_rows(tc);
    super::html::table(&mut out, None, &h, &rows, &[2, 3, 4, 5, 6]);
    let (h, rows) = contention_rows(tc);
    if !rows.is_empty() {
        out.push_str("<h2>Contention across targets</h2>\n");
        html_table(&mut out, &h, &rows, 3);
    }
    out.push_str("<h2 id=\"plan-diffs\">Plan differences between targets</h2>\n");
    for d in &tc.diffs {
        let _ = writeln!(
            out,
            "<h3>{} → {}, strategy <code>{}</code>: {} of {} plans differ</h3>\n<div class=\"panel\"><pre>{}</pre></div>",
            escape(&d.from),
            escape(&d.to),
            escape(&d.strategy),
            d.changed_plans,
            d.compared_plans,
            escape(&crate::report::diff::comparison(
                &d.comparison,
                Format::Table,
                false
            ))
        );
    }
    for (i, t) in tc.targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section><h2 id=\"t{i}\">Target {}: {}</h2>",
            escape(&t.name),
            escape(&super::title(&t.comparison))
        );
        let prefix = format!("t{i}-");
        out.push_str(
            &super::html::body(&t.comparison)
                .replace("id=\"", &format!("id=\"{prefix}"))
                .replace("href=\"#", &format!("href=\"#{prefix}")),
        );
        out.push_str("</section>\n");
    }
    super::html::page(&title(tc), &out)
}

/// One target in `report.json`: its name and its whole single-target document.
#[derive(Serialize)]
struct TargetDocument<'a> {
    name: &'a str,
    report: Document<'a>,
}

/// `report.json` across targets: every target's single-target document, the plan differences
/// between targets and the headline, as a versioned document (see [`crate::report::json`]).
pub fn json(tc: &TargetComparison) -> String {
    #[derive(Serialize)]
    struct Across<'a> {
        title: String,
        headline: String,
        kind: TargetKind,
        targets: Vec<TargetDocument<'a>>,
        target_diffs: &'a [crate::compare::targets::TargetDiff],
        #[serde(skip_serializing_if = "Vec::is_empty")]
        coordinator_target: Vec<CoordinatorTarget>,
        notes: &'a [String],
        wall_seconds: f64,
    }
    crate::report::json::document(Across {
        title: title(tc),
        headline: headline(tc),
        kind: tc.kind,
        targets: tc
            .targets
            .iter()
            .map(|t| TargetDocument {
                name: &t.name,
                report: Document::of(&t.comparison),
            })
            .collect(),
        target_diffs: &tc.diffs,
        coordinator_target: coordinator_targets(tc),
        notes: &tc.notes,
        wall_seconds: tc.wall_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Thresholds;
    use crate::compare::targets::TargetRun;

    /// Two targets from the strategy fixture: the second twice as slow, with the failing fk-only
    /// plans swapped in for tuned's (a plan difference).
    fn fixture() -> TargetComparison {
        let first = super::super::tests::fixture();
        let mut second = first.clone();
        second.stamp.target = "embedded Citus (coordinator + 2 workers)".into();
        for s in &mut second.strategies {
            for q in &mut s.queries {
                for l in [&mut q.custom.latency, &mut q.generic.latency] {
                    l.p50_ms *= 3.0;
                    for v in &mut l.p50_rounds.values {
                        *v *= 3.0;
                    }
                    l.p50_rounds.min *= 3.0;
                    l.p50_rounds.max *= 3.0;
                }
            }
        }
        let fk = second.strategies[0].clone();
        second.strategies[1].baseline = fk.baseline;
        TargetComparison::new(
            TargetKind::Topology,
            vec![
                TargetRun {
                    name: "single".into(),
                    comparison: first,
                },
                TargetRun {
                    name: "citus-2".into(),
                    comparison: second,
                },
            ],
            Thresholds::default(),
            99.0,
        )
    }

    /// The fixture with the second target's p50 set to the first's plus `added(custom?)` ms, on
    /// first-target p50s of 0.15 · 0.04 ms (`patient_range`) and 0.30 · 0.08 ms
    /// (`patient_count`) under the base strategy.
    fn with_added(added: impl Fn(bool) -> f64) -> TargetComparison {
        let mut tc = fixture();
        let firsts = [(0.15, 0.04), (0.30, 0.08)];
        for (t, offset) in tc.targets.iter_mut().zip([false, true]) {
            for (q, (c, g)) in t.comparison.strategies[0].queries.iter_mut().zip(firsts) {
                q.custom.latency.p50_ms = c + if offset { added(true) } else { 0.0 };
                q.generic.latency.p50_ms = g + if offset { added(false) } else { 0.0 };
            }
        }
        tc
    }

    #[test]
    fn the_coordinator_target_counts_plans_within_2x_and_the_median_added_latency() {
        // 0.1 ms more on a custom plan, 0.2 ms on a generic one: ratios 1.67 · 6.00 and
        // 1.33 · 3.50, so 2 of 4 plans within 2× and no query with both.
        let tc = with_added(|custom| if custom { 0.1 } else { 0.2 });
        let c = coordinator_target(&tc, &tc.targets[1]).unwrap();
        assert_eq!((c.within, c.plans), (2, 4));
        assert!((c.median_added_ms - 0.15).abs() < 1e-9, "{c:?}");
        assert!((c.median_ratio - f64::midpoint(0.25 / 0.15, 0.28 / 0.08)).abs() < 1e-9);
        assert!(c.queries_within.is_empty());
        assert_eq!(coordinator_target(&tc, &tc.targets[0]), None);
        // A fixed 0.05 ms: ratios 1.33 · 2.25 and 1.17 · 1.63, so patient_count's generic plan
        // (0.08 ms) lands within 2× too, and with it both of its plans.
        let tc = with_added(|_| 0.05);
        let c = coordinator_target(&tc, &tc.targets[1]).unwrap();
        assert_eq!((c.within, c.plans), (3, 4));
        assert_eq!(c.queries_within, ["patient_count"]);
        assert_eq!(
            coordinator_line(&c),
            "citus-2: coordinator within 2× of single's p50 (issue 13's target): 3 of 4 plans \
             (both plans of patient_count); median added latency 50 µs, median 1.48×"
        );
        let md = markdown(&tc);
        assert!(
            md.contains(&format!("- {}\n", coordinator_line(&c))),
            "{md}"
        );
        let v: serde_json::Value = serde_json::from_str(&json(&tc)).unwrap();
        assert_eq!(v["coordinator_target"][0]["within"], 3);
        assert_eq!(
            v["coordinator_target"][0]["queries_within"][0],
            "patient_count"
        );
        // Across versions there is no coordinator.
        let mut versions = tc;
        versions.kind = TargetKind::Version;
        assert!(coordinator_targets(&versions).is_empty());
        assert!(!markdown(&versions).contains("## Coordinator target"));
    }

    #[test]
    fn the_report_puts_targets_side_by_side_with_ratios_verdicts_and_plan_diffs() {
        let tc = fixture();
        let md = markdown(&tc);
        for needle in [
            "# qcheck compare across topologies: single vs citus-2",
            "## Latency across targets, strategy `fk-only`",
            "(3.00× · 3.00×)",
            "## Coordinator target",
            "- citus-2: coordinator within 2× of single's p50 (issue 13's target): 0 of 4 plans \
             (no query with both plans); median added latency",
            "## Verdicts across targets, strategy `tuned`",
            "### single → citus-2, strategy `tuned`: 2 of 4 plans differ",
            "## Target single",
            "## Target citus-2",
            "### Strategies",
            "2 notes (queries left out, skipped measurements) are [at the end](#notes).",
            "## Notes\n\n- single: a note\n- citus-2: a note\n",
        ] {
            assert!(md.contains(needle), "{needle:?} in\n{md}");
        }
        let h = headline(&tc);
        assert!(
            h.starts_with("citus-2 against single: 2 of 8 plans differ; prepared p50 under `fk-only` 3.00× of single's"),
            "{h}"
        );
        let page = html(&tc);
        assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
        assert!(page.contains("id=\"t1-latency\"") && page.contains("href=\"#t1-latency\""));
        assert!(page.contains("Plan differences between targets"));
        assert!(page.contains("<details><summary>2 notes"));
        let v: serde_json::Value = serde_json::from_str(&json(&tc)).unwrap();
        assert_eq!(v["kind"], "topology");
        assert_eq!(v["targets"][1]["name"], "citus-2");
        assert_eq!(v["targets"][0]["report"]["base"], "fk-only");
        assert_eq!(v["target_diffs"][1]["strategy"], "tuned");
        assert_eq!(v["target_diffs"][1]["changed_plans"], 2);
    }
}
