//! The comparison report: `report.md`, `report.html` and `report.json` from one
//! [`Comparison`](crate::compare::model::Comparison).
//!
//! Pure writers (no database, no file I/O: they return strings; the command writes the files), so
//! they are unit-tested on fixed measurements and the Markdown is snapshot-tested. The Markdown is
//! what goes into a PR comment or a README; the HTML is the same content for a person to look at
//! (charts, a verdict matrix, the plans one click away); the JSON is the measurements as they are.

mod charts;
mod html;
#[cfg(test)]
mod tests;

pub use html::html;

use crate::compare::model::{
    Comparison, Latency, PlanResult, QueryResult, StrategyResult, WriteBatch,
};
use crate::plan::Mode;
use crate::report::fmt::{self, bytes, sig3};
use crate::report::markdown_table;

/// `report.json`: every measurement, pretty-printed, as a versioned document (see
/// [`crate::report::json`]).
pub fn json(c: &Comparison) -> String {
    crate::report::json::document(c)
}

/// `p50 / p95 / p99` in ms.
pub fn percentiles(l: &Latency) -> String {
    format!(
        "{} / {} / {}",
        sig3(l.p50_ms),
        sig3(l.p95_ms),
        sig3(l.p99_ms)
    )
}

/// A plan's verdict cell (see [`fmt::verdict`]): `5/5 ok`, `3/5 FAIL`, `exempt (3/5)`.
pub fn verdict(p: &PlanResult) -> String {
    let total = p.verdicts.len();
    let undecided = p.verdicts.iter().filter(|v| v.undecided).count();
    fmt::verdict(total - p.failed(), undecided, total, p.exempt)
}

/// Every measured pass's rate: `2.05k / 1.98k / 1.51k`.
pub fn passes(w: &WriteBatch) -> String {
    w.passes_per_sec
        .iter()
        .map(|r| fmt::si(*r))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn writes_cells(w: &WriteBatch) -> [String; 2] {
    [fmt::si(w.per_sec), bytes(w.wal_bytes_per_op)]
}

/// The strategies compared, `a vs b vs c`.
pub fn title(c: &Comparison) -> String {
    let names: Vec<&str> = c.strategies.iter().map(|s| s.name.as_str()).collect();
    format!("qcheck compare: {}", names.join(" vs "))
}

/// One line: PostgreSQL, dataset, qcheck revision, machine.
pub fn stamp_line(c: &Comparison) -> String {
    let d = &c.dataset;
    let m = &c.stamp.machine;
    let appointments = d.row_counts.get("appointment").copied().unwrap_or(0);
    format!(
        "PostgreSQL {} · profile `{}`, scale {}, seed {} ({} appointments, {} partitions) · qcheck {} ({}) · {} cores, {} RAM{} · {}",
        c.stamp.postgres_version,
        d.profile,
        d.scale,
        d.seed,
        fmt::count_u64(appointments),
        d.partitions,
        c.stamp.qcheck_version,
        c.stamp.git_revision,
        m.cores,
        m.memory_bytes
            .map_or_else(|| "?".into(), |b| bytes(b as f64)),
        if m.server_is_local {
            ""
        } else {
            " (client machine; the server is remote)"
        },
        c.stamp.generated_at
    )
}

/// The per-strategy summary table rows (shared by Markdown and HTML).
pub fn summary_rows(c: &Comparison) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "strategy",
        "indexes",
        "index size",
        "build",
        "plans passing",
        "bookings/s",
        "WAL/booking",
        "cancellations/s",
        "WAL/cancellation",
    ];
    let rows = c
        .strategies
        .iter()
        .map(|s| {
            let (pass, total) = s.plans_passing();
            let [bps, wal_b] = writes_cells(&s.writes.bookings);
            let [cps, wal_c] = writes_cells(&s.writes.cancellations);
            vec![
                s.name.clone(),
                s.indexes.len().to_string(),
                bytes(s.total_index_bytes as f64),
                fmt::duration_ms(s.build_ms),
                format!("{pass}/{total}"),
                bps,
                wal_b,
                cps,
                wal_c,
            ]
        })
        .collect();
    (header, rows)
}

/// One row per query and strategy: latency in both modes, EXPLAIN figures, verdicts.
pub fn latency_rows(c: &Comparison) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "query",
        "strategy",
        "custom p50 / p95 / p99 ms",
        "generic p50 / p95 / p99 ms",
        "planning / execution ms (custom)",
        "shared buffers",
        "custom",
        "generic",
    ];
    let mut rows = Vec::new();
    for name in query_names(c) {
        for s in &c.strategies {
            let Some(q) = s.query(&name) else { continue };
            rows.push(vec![
                name.clone(),
                s.name.clone(),
                percentiles(&q.custom.latency),
                percentiles(&q.generic.latency),
                format!(
                    "{} / {}",
                    fmt::ms(q.custom.planning_ms),
                    fmt::ms(q.custom.execution_ms)
                ),
                q.custom
                    .shared_buffers
                    .map_or_else(|| fmt::MISSING.into(), |b| fmt::count(b as f64)),
                verdict(&q.custom),
                verdict(&q.generic),
            ]);
        }
    }
    (header, rows)
}

/// A Markdown table with a row per query and a column per strategy; `cell` renders a query's result
/// under one strategy (`-` where that strategy did not run it).
fn query_matrix(c: &Comparison, cell: impl Fn(&QueryResult) -> String) -> String {
    let mut header = vec!["query"];
    header.extend(c.strategies.iter().map(|s| s.name.as_str()));
    let rows: Vec<Vec<String>> = query_names(c)
        .into_iter()
        .map(|name| {
            let mut row = vec![name.clone()];
            row.extend(
                c.strategies
                    .iter()
                    .map(|s| s.query(&name).map_or_else(|| "-".into(), &cell)),
            );
            row
        })
        .collect();
    markdown_table(&header, &rows)
}

/// Query names in first-seen order across strategies.
pub fn query_names(c: &Comparison) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in &c.strategies {
        for q in &s.queries {
            if !names.contains(&q.name) {
                names.push(q.name.clone());
            }
        }
    }
    names
}

/// Failed expectations of a plan: `` `text`: expected …, found … ``.
pub fn failures(p: &PlanResult) -> Vec<String> {
    p.verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| format!("`{}`: expected {}, found {}", v.text, v.expected, v.found))
        .collect()
}

/// `report.md`.
pub fn markdown(c: &Comparison) -> String {
    let mut out = format!("# {}\n\n{}\n\n", title(c), stamp_line(c));
    out.push_str("## Strategies\n\n");
    let (h, rows) = summary_rows(c);
    out.push_str(&markdown_table(&h, &rows));
    out.push('\n');
    for s in &c.strategies {
        out.push_str(&format!("- **{}**: {}\n", s.name, s.summary));
    }
    out.push_str(&format!(
        "\nIndexes every strategy shares (primary keys, unique keys, exclusion constraints): {}. Tables: {}.\n",
        bytes(c.dataset.constraint_index_bytes as f64),
        bytes(c.dataset.table_bytes as f64)
    ));

    out.push_str(&format!(
        "\n## Latency\n\n{} timed executions per plan mode after {} warm-up; planning/execution time and \
         shared buffers from EXPLAIN ANALYZE of one execution.\n\n",
        c.method.runs, c.method.warmup
    ));
    let (h, rows) = latency_rows(c);
    out.push_str(&markdown_table(&h, &rows));

    out.push_str("\n## Verdicts\n\nCustom · generic plan: expectations met / declared.\n\n");
    out.push_str(&query_matrix(c, |q| {
        format!("{} · {}", verdict(&q.custom), verdict(&q.generic))
    }));
    let mut failed = Vec::new();
    for s in &c.strategies {
        for q in &s.queries {
            for mode in [Mode::Custom, Mode::Generic] {
                let p = q.plan(mode);
                for f in failures(p) {
                    let exempt = if p.exempt { " (exempt)" } else { "" };
                    failed.push(format!(
                        "- {} / {} ({}{exempt}): {f}\n",
                        s.name,
                        q.name,
                        mode.as_str()
                    ));
                }
            }
        }
    }
    if !failed.is_empty() {
        out.push_str("\n<details><summary>Failed expectations</summary>\n\n");
        out.extend(failed);
        out.push_str("\n</details>\n");
    }

    out.push_str("\n## Plans\n\n");
    out.push_str(&query_matrix(c, |q| q.custom.shape.clone()));

    out.push_str("\n## Indexes\n\n");
    let rows: Vec<Vec<String>> = c
        .strategies
        .iter()
        .flat_map(|s| {
            s.indexes.iter().map(move |i| {
                vec![
                    s.name.clone(),
                    i.name.clone(),
                    i.table.clone(),
                    bytes(i.bytes as f64),
                    fmt::duration_ms(i.build_ms),
                ]
            })
        })
        .collect();
    out.push_str(&markdown_table(
        &["strategy", "index", "table", "size", "build"],
        &rows,
    ));

    out.push_str("\n## Write cost\n\n");
    let rows: Vec<Vec<String>> = c
        .strategies
        .iter()
        .flat_map(|s| {
            [
                ("bookings", &s.writes.bookings),
                ("cancellations", &s.writes.cancellations),
            ]
            .map(|(what, w)| {
                vec![
                    s.name.clone(),
                    what.into(),
                    w.count.to_string(),
                    fmt::si(w.per_sec),
                    passes(w),
                    percentiles(&w.latency),
                    bytes(w.wal_bytes as f64),
                    bytes(w.wal_bytes_per_op),
                ]
            })
        })
        .collect();
    out.push_str(&markdown_table(
        &[
            "strategy",
            "write",
            "count",
            "per s (best pass)",
            "every pass",
            "p50 / p95 / p99 ms",
            "WAL",
            "WAL per write",
        ],
        &rows,
    ));

    if let Some(hc) = &c.harness {
        out.push_str(&format!(
            "\n## Harness check\n\nqcheck's timing against `pgbench -M prepared` for `{}` ({}) under `{}`: {} executions each, in {} interleaved rounds of {} warm-up + {}:\n\n",
            hc.query, hc.params, hc.strategy, hc.runs, hc.rounds, hc.warmup, hc.runs / hc.rounds.max(1)
        ));
        let rows: Vec<Vec<String>> = hc
            .modes
            .iter()
            .map(|m| {
                vec![
                    m.mode.as_str().into(),
                    percentiles(&m.qcheck),
                    percentiles(&m.pgbench),
                    fmt::ratio(m.ratio_p50),
                    fmt::ratio(m.ratio_mean),
                ]
            })
            .collect();
        out.push_str(&markdown_table(
            &[
                "plan",
                "qcheck p50 / p95 / p99 ms",
                "pgbench p50 / p95 / p99 ms",
                "ratio p50",
                "ratio mean",
            ],
            &rows,
        ));
        out.push_str(&format!(
            "\nThe script (`{}.sql`):\n\n```sql\n{}```\n\nOne round of each plan mode:\n\n",
            hc.query, hc.script
        ));
        for m in &hc.modes {
            out.push_str(&format!("```sh\n{}\n```\n", m.command));
        }
    }

    out.push_str("\n## Environment\n\n");
    let pairs: Vec<Vec<String>> = environment_rows(c)
        .into_iter()
        .map(|(k, v)| vec![k, v])
        .collect();
    out.push_str(&markdown_table(&["", ""], &pairs));

    out.push_str("\n## Method\n\n");
    for line in &c.method.description {
        out.push_str(&format!("- {line}\n"));
    }
    if !c.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for n in &c.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

/// The strategy index (for a stable colour per strategy).
pub fn strategy_index(c: &Comparison, s: &StrategyResult) -> usize {
    c.strategies
        .iter()
        .position(|x| x.name == s.name)
        .unwrap_or(0)
}

/// The environment a comparison ran in, as label/value rows: the same in every report format.
pub(crate) fn environment_rows(c: &Comparison) -> Vec<(String, String)> {
    let m = &c.stamp.machine;
    let mut rows: Vec<(String, String)> = vec![
        ("target".into(), c.stamp.target.clone()),
        ("PostgreSQL".into(), c.stamp.postgres_version.clone()),
        (
            "machine".into(),
            format!(
                "{} cores, {} RAM, {}{}",
                m.cores,
                m.memory_bytes
                    .map_or_else(|| "?".into(), |b| bytes(b as f64)),
                m.os,
                m.cpu
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default()
            ),
        ),
        (
            "qcheck".into(),
            format!("{} ({})", c.stamp.qcheck_version, c.stamp.git_revision),
        ),
        (
            "dataset".into(),
            format!(
                "{} scale {} seed {}, sha256:{}",
                c.dataset.profile, c.dataset.scale, c.dataset.seed, c.dataset.digest
            ),
        ),
        (
            "tables / constraint indexes".into(),
            format!(
                "{} / {}",
                bytes(c.dataset.table_bytes as f64),
                bytes(c.dataset.constraint_index_bytes as f64)
            ),
        ),
        (
            "left in place".into(),
            format!("strategy `{}`", c.left_in_place),
        ),
        ("wall time".into(), fmt::duration_s(c.wall_seconds)),
    ];
    rows.extend(
        c.stamp
            .settings
            .iter()
            .map(|s| (s.name.clone(), s.value.clone())),
    );
    rows
}
