//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) that shows a
//! comparison at a glance: a card per strategy, latency charts, cost charts, the verdict matrix, the
//! full tables, and every plan one click away (tree and raw EXPLAIN JSON in `<details>`).

use std::fmt::Write as _;

use super::charts::{self, Bar};
use super::{failures, percentiles, query_names, stamp_line, title, verdict};
use crate::compare::model::{Comparison, PlanResult, QueryResult, StrategyResult};
use crate::plan::Mode;
use crate::report::fmt::{self, bytes, ms, sig3};
use crate::report::html_escape as escape;
use crate::report::tree::{Mark, render_tree};

/// The page's stylesheet, inlined: the report is one file.
const CSS: &str = include_str!("style.css");

/// `report.html`.
pub fn html(c: &Comparison) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let t = escape(&title(c));
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><style>{CSS}</style></head><body><main>\n<h1>{t}</h1>\n<p class=\"stamp\">{}</p>",
        escape(&stamp_line(c).replace('`', ""))
    );
    out.push_str("<div>");
    for (i, s) in c.strategies.iter().enumerate() {
        let _ = write!(
            out,
            "<span class=\"chip\" style=\"background:{}\">{}</span>",
            charts::css_color(i),
            escape(&s.name)
        );
    }
    out.push_str("</div>\n<nav>");
    for (id, label) in [
        ("latency", "Latency"),
        ("cost", "Cost"),
        ("verdicts", "Verdicts"),
        ("figures", "Figures"),
        ("plans", "Plans"),
        ("indexes", "Indexes & writes"),
        ("harness", "Harness check"),
        ("environment", "Environment & method"),
    ] {
        if id != "harness" || c.harness.is_some() {
            let _ = write!(out, "<a href=\"#{id}\">{label}</a>");
        }
    }
    out.push_str("</nav>\n");
    cards(&mut out, c);
    latency_charts(&mut out, c);
    cost_charts(&mut out, c);
    verdict_matrix(&mut out, c);
    latency_table(&mut out, c);
    plans(&mut out, c);
    indexes(&mut out, c);
    harness(&mut out, c);
    environment(&mut out, c);
    out.push_str("</main></body></html>\n");
    out
}

fn cards(out: &mut String, c: &Comparison) {
    out.push_str("<section class=\"cards\">\n");
    for (i, s) in c.strategies.iter().enumerate() {
        let (pass, total) = s.plans_passing();
        let metric = |v: String, label: &str| {
            format!(
                "<div class=\"metric\"><b>{}</b><span>{label}</span></div>",
                escape(&v)
            )
        };
        let _ = writeln!(
            out,
            "<div class=\"card\" style=\"border-color:{}\"><h3>{}</h3><p>{}</p><div class=\"metrics\">{}{}{}{}{}{}</div></div>",
            charts::css_color(i),
            escape(&s.name),
            escape(&s.summary),
            metric(format!("{pass}/{total}"), "plans meet expectations"),
            metric(
                bytes(s.total_index_bytes as f64),
                &format!("{} indexes", s.indexes.len())
            ),
            metric(fmt::duration_ms(s.build_ms), "to build"),
            metric(fmt::si(s.writes.bookings.per_sec), "bookings/s"),
            metric(bytes(s.writes.bookings.wal_bytes_per_op), "WAL per booking"),
            metric(fmt::si(s.writes.cancellations.per_sec), "cancellations/s"),
        );
    }
    out.push_str("</section>\n");
}

fn latency_charts(out: &mut String, c: &Comparison) {
    let names = query_names(c);
    let series: Vec<String> = c.strategies.iter().map(|s| s.name.clone()).collect();
    let values = |mode: Mode| -> Vec<Vec<Option<Bar>>> {
        names
            .iter()
            .map(|n| {
                c.strategies
                    .iter()
                    .map(|s| {
                        s.query(n).map(|q| {
                            let l = &q.plan(mode).latency;
                            Bar {
                                value: l.p50_ms,
                                whisker: Some(l.p95_ms),
                            }
                        })
                    })
                    .collect()
            })
            .collect()
    };
    let _ = writeln!(
        out,
        "<h2 id=\"latency\">Latency per query</h2>\n<div class=\"grid2\"><div class=\"panel\">{}</div><div class=\"panel\">{}</div></div>\n\
         <p class=\"caption\">Bar: p50 of {} executions of the prepared statement; whisker: p95. Log scale: shorter is faster.</p>",
        charts::grouped_log_bars(
            "Custom plans (force_custom_plan)",
            "ms, log scale",
            &names,
            &series,
            &values(Mode::Custom),
            660
        ),
        charts::grouped_log_bars(
            "Generic plans (force_generic_plan)",
            "ms, log scale",
            &names,
            &series,
            &values(Mode::Generic),
            660
        ),
        c.method.runs
    );
}

fn cost_charts(out: &mut String, c: &Comparison) {
    let labels: Vec<String> = c.strategies.iter().map(|s| s.name.clone()).collect();
    let pick =
        |f: &dyn Fn(&StrategyResult) -> f64| c.strategies.iter().map(f).collect::<Vec<f64>>();
    // Charted in the unit they are labelled in, so that the axis ticks are round numbers.
    let (size_unit, size_div) =
        fmt::bytes_unit(c.strategies.iter().map(|s| s.total_index_bytes as f64));
    let (wal_unit, wal_div) = fmt::bytes_unit(
        c.strategies
            .iter()
            .map(|s| s.writes.bookings.wal_bytes_per_op),
    );
    let _ = writeln!(
        out,
        "<h2 id=\"cost\">What the indexes cost</h2>\n<div class=\"grid3\"><div class=\"panel\">{}</div><div class=\"panel\">{}</div><div class=\"panel\">{}</div></div>\n\
         <p class=\"caption\">Secondary indexes only; the {} of constraint indexes (primary keys, unique keys, exclusion) are the same for every strategy. \
         Writes: {} bookings and {} cancellations, one round trip each, in a rolled-back transaction after a CHECKPOINT; the fastest of three passes after a warm-up pass.</p>",
        charts::bars(
            &format!("Index size ({size_unit})"),
            "smaller is cheaper",
            &labels,
            &pick(&|s| s.total_index_bytes as f64 / size_div),
            &|v| sig3(v),
            440
        ),
        charts::bars(
            "Bookings per second",
            "higher is better",
            &labels,
            &pick(&|s| s.writes.bookings.per_sec),
            &|v| fmt::si(v),
            440
        ),
        charts::bars(
            &format!("WAL per booking ({wal_unit})"),
            "lower is better",
            &labels,
            &pick(&|s| s.writes.bookings.wal_bytes_per_op / wal_div),
            &|v| sig3(v),
            440
        ),
        escape(&bytes(c.dataset.constraint_index_bytes as f64)),
        c.strategies.first().map_or(0, |s| s.writes.bookings.count),
        c.strategies
            .first()
            .map_or(0, |s| s.writes.cancellations.count),
    );
}

fn badge(mode: &str, p: &PlanResult) -> String {
    let class = if p.exempt {
        "ex"
    } else if p.passed {
        "ok"
    } else {
        "bad"
    };
    let tip: Vec<String> = failures(p).iter().map(|f| f.replace('`', "")).collect();
    format!(
        "<span class=\"badge {class}\" title=\"{}\">{mode} {}</span>",
        escape(&tip.join("\n")),
        escape(&verdict(p))
    )
}

/// The failed expectations of a query, each once, with the plans it failed in (`custom, generic`).
fn failed_expectations(q: &QueryResult) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for (mode, p) in [("custom", &q.custom), ("generic", &q.generic)] {
        for v in p.verdicts.iter().filter(|v| !v.passed) {
            let mode = if p.exempt { "generic, exempt" } else { mode };
            match out.iter_mut().find(|(t, _)| *t == v.text) {
                Some((_, modes)) => modes.push(mode),
                None => out.push((v.text.clone(), vec![mode])),
            }
        }
    }
    out.into_iter().map(|(t, m)| (t, m.join(", "))).collect()
}

fn verdict_matrix(out: &mut String, c: &Comparison) {
    out.push_str(
        "<h2 id=\"verdicts\">Verdicts</h2>\n<div class=\"panel\"><table class=\"matrix\"><tr><th>query</th>",
    );
    for (i, s) in c.strategies.iter().enumerate() {
        let _ = write!(
            out,
            "<th><span class=\"chip\" style=\"background:{}\">{}</span></th>",
            charts::css_color(i),
            escape(&s.name)
        );
    }
    out.push_str("</tr>\n");
    for name in query_names(c) {
        let _ = write!(out, "<tr><td><code>{}</code></td>", escape(&name));
        for s in &c.strategies {
            match s.query(&name) {
                Some(q) => {
                    let _ = write!(
                        out,
                        "<td>{}{}",
                        badge("custom", &q.custom),
                        badge("generic", &q.generic)
                    );
                    for (text, modes) in failed_expectations(q) {
                        let _ = write!(
                            out,
                            "<div class=\"fail\">✗ {} <span class=\"shape\">({modes})</span></div>",
                            escape(&text)
                        );
                    }
                    out.push_str("</td>");
                }
                None => out.push_str("<td>-</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n<p class=\"caption\">Expectations met / declared, for the custom and the generic plan, and the expectations that failed. Hover a badge for what the plan showed; the plans below have the details.</p>\n");
}

fn latency_table(out: &mut String, c: &Comparison) {
    out.push_str(
        "<h2 id=\"figures\">Latency and plan figures</h2>\n<div class=\"panel\"><table><tr><th>query</th><th>strategy</th>\
         <th>custom p50</th><th>p95</th><th>p99</th><th>generic p50</th><th>p95</th><th>p99</th>\
         <th>planning ms</th><th>execution ms</th><th>shared buffers</th></tr>\n",
    );
    for name in query_names(c) {
        let rows: Vec<(usize, &StrategyResult, &QueryResult)> = c
            .strategies
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.query(&name).map(|q| (i, s, q)))
            .collect();
        let best = |f: &dyn Fn(&QueryResult) -> f64| {
            rows.iter()
                .map(|(_, _, q)| f(q))
                .fold(f64::INFINITY, f64::min)
        };
        let best_custom = best(&|q| q.custom.latency.p50_ms);
        let best_generic = best(&|q| q.generic.latency.p50_ms);
        for (k, (i, s, q)) in rows.iter().enumerate() {
            #[allow(
                clippy::float_cmp,
                reason = "best is one of the values: marking the exact same value is intended"
            )]
            let cell = |v: f64, best: f64| {
                let class = if rows.len() > 1 && v == best {
                    "num best"
                } else {
                    "num"
                };
                format!("<td class=\"{class}\">{}</td>", sig3(v))
            };
            let first = if k == 0 {
                format!(
                    "<td rowspan=\"{}\"><code>{}</code></td>",
                    rows.len(),
                    escape(&name)
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<tr>{first}<td><span class=\"chip\" style=\"background:{}\">{}</span></td>{}{}{}{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                charts::css_color(*i),
                escape(&s.name),
                cell(q.custom.latency.p50_ms, best_custom),
                cell(q.custom.latency.p95_ms, f64::NAN),
                cell(q.custom.latency.p99_ms, f64::NAN),
                cell(q.generic.latency.p50_ms, best_generic),
                cell(q.generic.latency.p95_ms, f64::NAN),
                cell(q.generic.latency.p99_ms, f64::NAN),
                ms(q.custom.planning_ms),
                ms(q.custom.execution_ms),
                q.custom
                    .shared_buffers
                    .map_or_else(|| fmt::MISSING.into(), |b| fmt::count(b as f64)),
            );
        }
    }
    out.push_str("</table></div>\n<p class=\"caption\">Milliseconds; the fastest p50 per query in green. Planning and execution time and shared buffers (custom plan) come from EXPLAIN (ANALYZE, BUFFERS) of one warm execution; latency from real executions. The plan shapes are under Plans.</p>\n");
}

fn plan_tree(p: &PlanResult) -> String {
    let marks: Vec<Mark> = p
        .verdicts
        .iter()
        .filter(|v| !v.passed)
        .flat_map(|v| {
            v.nodes
                .iter()
                .map(move |n| Mark::new(*n, format!("FAIL {}", v.text)))
        })
        .collect();
    render_tree(&p.plan, &marks, false)
}

fn plans(out: &mut String, c: &Comparison) {
    out.push_str("<h2 id=\"plans\">Plans</h2>\n");
    for name in query_names(c) {
        let summary = c
            .strategies
            .iter()
            .find_map(|s| s.query(&name))
            .map(|q| q.summary.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<details><summary><code>{}</code> — {}</summary>",
            escape(&name),
            escape(&summary)
        );
        for (i, s) in c.strategies.iter().enumerate() {
            let Some(q) = s.query(&name) else { continue };
            let _ = writeln!(
                out,
                "<details><summary><span class=\"chip\" style=\"background:{}\">{}</span> {}{} <span class=\"shape\">{}</span></summary><div class=\"plan\">\
                 <div class=\"shape\">params: {}</div>",
                charts::css_color(i),
                escape(&s.name),
                badge("custom", &q.custom),
                badge("generic", &q.generic),
                escape(&q.custom.shape),
                escape(&q.params)
            );
            for (mode, p) in [("Custom plan", &q.custom), ("Generic plan", &q.generic)] {
                let _ = write!(
                    out,
                    "<h3>{mode}: planning {} ms, execution {} ms, latency p50 / p95 / p99 {} ms</h3><pre>{}</pre>",
                    ms(p.planning_ms),
                    ms(p.execution_ms),
                    escape(&percentiles(&p.latency)),
                    escape(&plan_tree(p))
                );
                for f in failures(p) {
                    let _ = write!(
                        out,
                        "<div class=\"fail\">{}</div>",
                        escape(&f.replace('`', ""))
                    );
                }
                let json = serde_json::to_string_pretty(&[&p.plan]).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<details><summary>raw EXPLAIN JSON ({})</summary><pre>{}</pre></details>",
                    mode.to_lowercase(),
                    escape(&json)
                );
            }
            out.push_str("</div></details>\n");
        }
        out.push_str("</details>\n");
    }
}

fn indexes(out: &mut String, c: &Comparison) {
    out.push_str("<h2 id=\"indexes\">Indexes</h2>\n<div class=\"panel\"><table><tr><th>strategy</th><th>index</th><th>size</th><th>build</th><th>definition</th></tr>\n");
    for (i, s) in c.strategies.iter().enumerate() {
        for ix in &s.indexes {
            let _ = writeln!(
                out,
                "<tr><td><span class=\"chip\" style=\"background:{}\">{}</span></td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"shape\">{}</td></tr>",
                charts::css_color(i),
                escape(&s.name),
                escape(&ix.name),
                escape(&bytes(ix.bytes as f64)),
                fmt::duration_ms(ix.build_ms),
                escape(&ix.definition)
            );
        }
    }
    out.push_str("</table></div>\n<h3>Write cost</h3><div class=\"panel\"><table><tr><th>strategy</th><th>write</th><th>count</th><th>per s (best pass)</th><th>every pass</th><th>p50 / p95 / p99 ms</th><th>WAL</th><th>WAL per write</th></tr>\n");
    for (i, s) in c.strategies.iter().enumerate() {
        for (what, w) in [
            ("booking", &s.writes.bookings),
            ("cancellation", &s.writes.cancellations),
        ] {
            let _ = writeln!(
                out,
                "<tr><td><span class=\"chip\" style=\"background:{}\">{}</span></td><td>{what}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                charts::css_color(i),
                escape(&s.name),
                w.count,
                fmt::si(w.per_sec),
                super::passes(w),
                percentiles(&w.latency),
                escape(&bytes(w.wal_bytes as f64)),
                escape(&bytes(w.wal_bytes_per_op))
            );
        }
    }
    out.push_str("</table></div>\n");
}

fn harness(out: &mut String, c: &Comparison) {
    let Some(h) = &c.harness else { return };
    let _ = writeln!(
        out,
        "<h2 id=\"harness\">Harness check</h2>\n<p>qcheck's timing loop against <code>pgbench -M prepared</code>: <code>{}</code> ({}) under strategy <code>{}</code>, \
         {} executions each in {} interleaved rounds ({} warm-up each). A ratio near 1 means the harness adds nothing pgbench does not.</p>\n\
         <div class=\"panel\"><table><tr><th>plan</th><th>qcheck p50 / p95 / p99 ms</th><th>pgbench p50 / p95 / p99 ms</th><th>ratio p50</th><th>ratio mean</th></tr>",
        escape(&h.query),
        escape(&h.params),
        escape(&h.strategy),
        h.runs,
        h.rounds,
        h.warmup
    );
    for m in &h.modes {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            m.mode.as_str(),
            percentiles(&m.qcheck),
            percentiles(&m.pgbench),
            fmt::ratio(m.ratio_p50),
            fmt::ratio(m.ratio_mean)
        );
    }
    out.push_str("</table></div>\n");
    let _ = writeln!(
        out,
        "<h3>The pgbench script</h3><pre class=\"cmd\">{}</pre><h3>The pgbench runs (one per round)</h3>",
        escape(&h.script)
    );
    for m in &h.modes {
        let _ = writeln!(out, "<pre class=\"cmd\">{}</pre>", escape(&m.command));
    }
}

fn environment(out: &mut String, c: &Comparison) {
    out.push_str("<h2 id=\"environment\">Environment and method</h2>\n<div class=\"grid2\"><div class=\"panel\"><table class=\"kv\">\n");
    let rows = super::environment_rows(c);
    for (k, v) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&k),
            escape(&v)
        );
    }
    out.push_str("</table></div><div class=\"panel\"><ul>\n");
    for line in &c.method.description {
        let _ = writeln!(out, "<li>{}</li>", escape(line));
    }
    for n in &c.notes {
        let _ = writeln!(out, "<li><b>Note:</b> {}</li>", escape(n));
    }
    out.push_str("</ul></div></div>\n");
}
