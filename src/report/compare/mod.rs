//! The comparison report: `report.md`, `report.html` and `report.json` from one
//! [`Comparison`](crate::compare::model::Comparison).
//!
//! Pure writers (no database, no file I/O: they return strings; the command writes the files), so
//! they are unit-tested on fixed measurements and the Markdown is snapshot-tested. The Markdown is
//! what goes into a PR comment or a README; the HTML is the same content for a person to look at
//! (charts, a verdict matrix, the plans one click away); the JSON is the measurements as they are.

mod charts;
mod html;
pub mod noise;
pub mod targets;
#[cfg(test)]
mod tests;

pub use html::html;

use serde::Serialize;

use crate::compare::model::{
    Comparison, Contention, Latency, PlanResult, QueryResult, Race, Spread, StrategyResult,
    WriteBatch,
};
use crate::plan::Mode;
use crate::report::fmt::{self, bytes, sig3};
use crate::report::markdown_table;
use noise::Versus;

/// `report.json`'s body: every measurement (with the round spreads `p50_rounds`,
/// `per_sec_spread`, `wal_bytes_per_op_spread`, `base`, `contention`, `race`), and what the report
/// concludes from them; versioned like every JSON document (see [`crate::report::json`]).
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    comparison: &'a Comparison,
    judgements: noise::Judgements,
}

impl Document<'_> {
    fn of(c: &Comparison) -> Document<'_> {
        Document {
            comparison: c,
            judgements: noise::judgements(c),
        }
    }
}

/// `report.json`: every measurement, pretty-printed, as a versioned document (see
/// [`crate::report::json`]).
pub fn json(c: &Comparison) -> String {
    crate::report::json::document(Document::of(c))
}

/// `1.23 – 1.48`: a spread's range in ms (`-` without rounds).
pub fn range_ms(s: &Spread) -> String {
    if s.is_empty() {
        fmt::MISSING.into()
    } else {
        format!("{} – {}", sig3(s.min), sig3(s.max))
    }
}

/// `2.05k (1.51k – 2.10k)`: a rate with the range of its passes.
pub fn rate_with_range(value: f64, s: &Spread) -> String {
    if s.rounds() < 2 {
        fmt::si(value)
    } else {
        format!(
            "{} ({} – {})",
            fmt::si(value),
            fmt::si(s.min),
            fmt::si(s.max)
        )
    }
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

pub(crate) fn writes_cells(w: &WriteBatch) -> [String; 2] {
    [
        rate_with_range(w.per_sec, &w.per_sec_spread),
        bytes(w.wal_bytes_per_op),
    ]
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
        "bookings/s (range)",
        "WAL/booking",
        "cancellations/s (range)",
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
    let mut out = format!(
        "# {}\n\n**{}.**\n\n{}\n\n",
        title(c),
        noise::headline(c),
        stamp_line(c)
    );
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
        "\n## Latency against `{}`\n\np50 in ms with its range over {} rounds, and the ratio to the base strategy: \
         \"faster\" or \"slower\" only when the ranges do not overlap. ≡ marks a query whose plans are \
         identical under every strategy (any difference is noise or the indexes' size, not the plan).\n\n",
        noise::base(c).map_or("", |b| b.name.as_str()),
        c.method.rounds
    ));
    let (h, rows) = versus_rows(c);
    out.push_str(&markdown_table(
        &h.iter().map(String::as_str).collect::<Vec<_>>(),
        &rows,
    ));
    out.push_str(&format!(
        "\n## Latency\n\n{} timed executions per plan mode in {} rounds after {} warm-up; planning/execution time and \
         shared buffers from EXPLAIN ANALYZE of one execution.\n\n",
        c.method.runs, c.method.rounds, c.method.warmup
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
                    bytes(w.wal_bytes_per_op_spread.min)
                        + " – "
                        + &bytes(w.wal_bytes_per_op_spread.max),
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
            "per s (median pass)",
            "every pass",
            "WAL per write, range",
            "p50 / p95 / p99 ms",
            "WAL",
            "WAL per write",
        ],
        &rows,
    ));

    contention_markdown(&mut out, c);

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

/// `0.194 [0.190 – 0.201] · 2.46× faster`: a p50 with its range and the verdict against the base.
pub fn versus_cell(l: &Latency, v: &Versus) -> String {
    if l.p50_rounds.is_empty() {
        format!("{} · {}", sig3(l.p50_ms), v.latency_text())
    } else {
        format!(
            "{} [{}] · {}",
            sig3(l.p50_ms),
            range_ms(&l.p50_rounds),
            v.latency_text()
        )
    }
}

/// One row per query and plan mode, a column per strategy: p50, range, verdict against the base.
pub fn versus_rows(c: &Comparison) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["query".to_string(), "plan".to_string()];
    header.extend(c.strategies.iter().map(|s| s.name.clone()));
    let mut rows = Vec::new();
    for name in query_names(c) {
        let mark = if noise::identical_plans(c, &name) {
            " ≡"
        } else {
            ""
        };
        for mode in Mode::BOTH {
            let mut row = vec![format!("{name}{mark}"), mode.as_str().to_string()];
            row.extend(c.strategies.iter().map(|s| {
                s.query(&name).map_or_else(
                    || "-".into(),
                    |q| {
                        versus_cell(
                            &q.plan(mode).latency,
                            &noise::latency_vs_base(c, s, q, mode),
                        )
                    },
                )
            }));
            rows.push(row);
        }
    }
    (header, rows)
}

/// The contention sweep's rows for one strategy (shared by Markdown and HTML).
pub fn contention_rows(ct: &Contention) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "clients",
        "collisions",
        "bookings/s (quarters)",
        "p50 ms",
        "p99 ms",
        "booked",
        "23P01",
        "40P01",
        "other errors",
    ];
    let rows = ct
        .levels
        .iter()
        .map(|l| {
            vec![
                l.clients.to_string(),
                if l.collisions {
                    fmt::percent(ct.collision_share)
                } else {
                    "none".into()
                },
                rate_with_range(l.per_sec, &l.per_sec_spread),
                sig3(l.latency.p50_ms),
                sig3(l.latency.p99_ms),
                fmt::count_u64(l.booked as u64),
                fmt::count_u64(l.exclusion_violations as u64),
                fmt::count_u64(l.deadlocks as u64),
                fmt::count_u64(l.other_errors as u64),
            ]
        })
        .collect();
    (header, rows)
}

/// The race's rows (shared by Markdown and HTML).
pub fn race_rows(r: &Race) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "round",
        "settled in",
        "booked",
        "23P01",
        "40P01",
        "other errors",
    ];
    let rows = r
        .rounds
        .iter()
        .enumerate()
        .map(|(i, x)| {
            vec![
                (i + 1).to_string(),
                fmt::duration_ms(x.settle_ms),
                x.booked.to_string(),
                x.exclusion_violations.to_string(),
                x.deadlocks.to_string(),
                x.other_errors.to_string(),
            ]
        })
        .collect();
    (header, rows)
}

/// The contention targets of issue 11 and whether this run meets them: (target, met, found).
pub fn contention_targets(c: &Comparison) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    let sweeps: Vec<(&str, &Contention)> = c
        .strategies
        .iter()
        .filter_map(|s| s.contention.as_ref().map(|ct| (s.name.as_str(), ct)))
        .collect();
    if !sweeps.is_empty() {
        let deadlocks: usize = sweeps
            .iter()
            .flat_map(|(_, ct)| ct.levels.iter().map(|l| l.deadlocks))
            .sum();
        out.push((
            "no deadlock (40P01) at any level".to_string(),
            deadlocks == 0,
            format!("{deadlocks} over every strategy and level"),
        ));
        let clients = if sweeps
            .iter()
            .any(|(_, ct)| ct.level(16, true).is_some() && ct.level(16, false).is_some())
        {
            16
        } else {
            sweeps[0]
                .1
                .levels
                .iter()
                .map(|l| l.clients)
                .max()
                .unwrap_or(1)
        };
        let ratios: Vec<String> = sweeps
            .iter()
            .filter_map(|(name, ct)| {
                let (with, without) = (ct.level(clients, true)?, ct.level(clients, false)?);
                let r = if without.per_sec > 0.0 {
                    with.per_sec / without.per_sec
                } else {
                    f64::NAN
                };
                Some((name, r))
            })
            .map(|(name, r)| format!("{name} {}", fmt::ratio(r)))
            .collect();
        let worst = sweeps
            .iter()
            .filter_map(|(_, ct)| {
                let (with, without) = (ct.level(clients, true)?, ct.level(clients, false)?);
                Some(if without.per_sec > 0.0 {
                    with.per_sec / without.per_sec
                } else {
                    0.0
                })
            })
            .fold(f64::INFINITY, f64::min);
        out.push((
            format!("bookings/s with collisions ≥ 0.8× without, at {clients} clients"),
            worst >= 0.8,
            ratios.join(", "),
        ));
    }
    if let Some(r) = &c.race {
        out.push((
            format!("a {}-client collision settles in under 0.5 s", r.clients),
            r.settle_spread.max < 500.0 && !r.rounds.is_empty(),
            format!(
                "{} – {} over {} rounds",
                fmt::duration_ms(r.settle_spread.min),
                fmt::duration_ms(r.settle_spread.max),
                r.rounds.len()
            ),
        ));
        let winners_ok = r.rounds.iter().all(|x| x.booked == 1);
        out.push((
            "exactly one winner, every loser 23P01".to_string(),
            winners_ok
                && r.rounds
                    .iter()
                    .all(|x| x.exclusion_violations == r.clients - 1),
            r.rounds
                .iter()
                .map(|x| {
                    format!(
                        "{} booked / {} × 23P01 / {} × 40P01",
                        x.booked, x.exclusion_violations, x.deadlocks
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    out
}

fn contention_markdown(out: &mut String, c: &Comparison) {
    let any = c.strategies.iter().any(|s| s.contention.is_some());
    if !any && c.race.is_none() {
        return;
    }
    out.push_str("\n## Contention\n\n");
    for s in &c.strategies {
        let Some(ct) = &s.contention else { continue };
        out.push_str(&format!(
            "`{}`: {} s per level, Zipf (s = {}) over {} providers; bookings/s counts answered attempts \
             (booked or 23P01), latency is every attempt's.\n\n",
            s.name,
            sig3(ct.seconds_per_level),
            ct.zipf_s,
            ct.providers
        ));
        let (h, rows) = contention_rows(ct);
        out.push_str(&markdown_table(&h, &rows));
        out.push('\n');
    }
    if let Some(r) = &c.race {
        out.push_str(&format!(
            "Collision race under `{}`: {} clients released at once on {} of one provider across {}:\n\n",
            r.strategy,
            r.clients,
            r.shapes.join(", "),
            r.boundary
        ));
        let (h, rows) = race_rows(r);
        out.push_str(&markdown_table(&h, &rows));
        out.push('\n');
    }
    let targets = contention_targets(c);
    if !targets.is_empty() {
        out.push_str("Targets (issue 11):\n\n");
        for (target, met, found) in targets {
            out.push_str(&format!(
                "- {}: {target} — {found}\n",
                if met { "met" } else { "NOT MET" }
            ));
        }
    }
}

/// The strategy index (for a stable colour per strategy).
pub fn strategy_index(c: &Comparison, s: &StrategyResult) -> usize {
    c.strategies
        .iter()
        .position(|x| x.name == s.name)
        .unwrap_or(0)
}

/// How long seeding the dataset took in this run, or that it was reused.
pub fn seeding(c: &Comparison) -> String {
    c.dataset.seed_seconds.map_or_else(
        || "reused (seeded by an earlier run)".into(),
        |s| format!("{} in this run", fmt::duration_s(s)),
    )
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
        ("seeding".into(), seeding(c)),
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
