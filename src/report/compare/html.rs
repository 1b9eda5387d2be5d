//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) that shows a
//! comparison at a glance: a card per strategy, latency charts, cost charts, the verdict matrix, the
//! full tables, and every plan one click away (tree and raw EXPLAIN JSON in `<details>`).

use std::fmt::Write as _;

use super::charts::{self, BarRow, Line};
use super::noise;
use super::{
    failures, percentiles, query_names, range_ms, rate_with_range, stamp_line, title, verdict,
};
use crate::compare::model::{Comparison, PlanResult, QueryResult, StrategyResult};
use crate::plan::Mode;
use crate::report::fmt::{self, bytes, ms, sig3};
use crate::report::html_escape as escape;
use crate::report::tree::{Mark, render_tree};

/// The page's stylesheet, inlined: the report is one file.
const CSS: &str = include_str!("style.css");

/// `report.html`.
pub fn html(c: &Comparison) -> String {
    page(&title(c), &body(c))
}

/// A whole page: the inlined stylesheet, `title` as its title and first heading, then `body`.
pub(super) fn page(title: &str, body: &str) -> String {
    let t = escape(title);
    let mut out = String::with_capacity(body.len() + CSS.len() + 512);
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><style>{CSS}:root {{ --ok:{}; --bad:{}; }}</style></head><body><main>\n<h1>{t}</h1>",
        charts::hex(charts::PASS),
        charts::hex(charts::FAIL),
    );
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    out
}

/// One comparison's content under its heading: headline, stamp, strategy chips, navigation and
/// every section.
pub(super) fn body(c: &Comparison) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let _ = writeln!(
        out,
        "<p class=\"headline\">{}.</p>\n<p class=\"stamp\">{}</p>",
        escape(&noise::headline(c)),
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
        ("contention", "Contention"),
        ("harness", "Harness check"),
        ("environment", "Environment & method"),
    ] {
        let contention = c.race.is_some() || c.strategies.iter().any(|s| s.contention.is_some());
        if (id != "harness" || c.harness.is_some()) && (id != "contention" || contention) {
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
    contention(&mut out, c);
    harness(&mut out, c);
    environment(&mut out, c);
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
            metric(
                fmt::si(s.writes.bookings.per_sec),
                &format!("bookings/s, {}", noise::bookings_vs_base(c, s).rate_text())
            ),
            metric(bytes(s.writes.bookings.wal_bytes_per_op), "WAL per booking"),
            metric(fmt::si(s.writes.cancellations.per_sec), "cancellations/s"),
        );
    }
    out.push_str("</section>\n");
}

fn latency_charts(out: &mut String, c: &Comparison) {
    let base = noise::base(c).map_or("", |b| b.name.as_str());
    let _ = writeln!(
        out,
        "<h2 id=\"latency\">Latency per query, against <code>{}</code></h2>\n\
         <p class=\"caption\">Bar: p50 of {} executions of the prepared statement in {} rounds, on a linear axis from 0 per query \
         (a bar half as long is twice as fast); thin line: the range of the rounds' p50s. \"Faster\" or \"slower\" only when \
         the ranges do not overlap, else \"same within noise\". <span class=\"same\">same plan</span> marks a query whose plan \
         is identical under every strategy.</p>\n<div class=\"grid2\">",
        escape(base),
        c.method.runs,
        c.method.rounds
    );
    for mode in Mode::BOTH {
        let _ = write!(
            out,
            "<div class=\"panel\"><h3>{} plans <span class=\"shape\">(plan_cache_mode = force_{}_plan)</span></h3>",
            if mode == Mode::Custom {
                "Custom"
            } else {
                "Generic"
            },
            mode.as_str()
        );
        for name in query_names(c) {
            let same = if noise::identical_plans(c, &name) {
                " <span class=\"same\">same plan</span>"
            } else {
                ""
            };
            let rows: Vec<BarRow> = c
                .strategies
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let q = s.query(&name)?;
                    let l = &q.plan(mode).latency;
                    let v = noise::latency_vs_base(c, s, q, mode);
                    Some(BarRow {
                        label: s.name.clone(),
                        color: i,
                        value: l.p50_ms,
                        range: (!l.p50_rounds.is_empty())
                            .then_some((l.p50_rounds.min, l.p50_rounds.max)),
                        text: format!("{} · {}", fmt::duration_ms(l.p50_ms), v.latency_text()),
                    })
                })
                .collect();
            let _ = write!(
                out,
                "<div class=\"qchart\"><div class=\"qname\"><code>{}</code>{same}</div>{}</div>",
                escape(&name),
                charts::bar_rows(&rows)
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</div>\n");
}

/// A bar's value, its range if measured, and its text.
type BarFigure = (f64, Option<(f64, f64)>, String);

fn cost_charts(out: &mut String, c: &Comparison) {
    let rows = |value: &dyn Fn(&StrategyResult) -> BarFigure| {
        let rows: Vec<BarRow> = c
            .strategies
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (v, range, text) = value(s);
                BarRow {
                    label: s.name.clone(),
                    color: i,
                    value: v,
                    range,
                    text,
                }
            })
            .collect();
        charts::bar_rows(&rows)
    };
    let base = noise::base(c);
    let size = rows(&|s| {
        let delta = base.map_or(0, |b| s.total_index_bytes - b.total_index_bytes) as f64;
        let text = if base.is_some_and(|b| b.name == s.name) {
            "base".to_string()
        } else if delta >= 0.0 {
            format!("+{}", bytes(delta))
        } else {
            format!("−{}", bytes(-delta))
        };
        (
            s.total_index_bytes as f64,
            None,
            format!("{} · {text}", bytes(s.total_index_bytes as f64)),
        )
    });
    let rate = rows(&|s| {
        let w = &s.writes.bookings;
        (
            w.per_sec,
            (w.per_sec_spread.rounds() > 1).then_some((w.per_sec_spread.min, w.per_sec_spread.max)),
            format!(
                "{} · {}",
                fmt::si(w.per_sec),
                noise::bookings_vs_base(c, s).rate_text()
            ),
        )
    });
    let wal = rows(&|s| {
        let w = &s.writes.bookings;
        (
            w.wal_bytes_per_op,
            (w.wal_bytes_per_op_spread.rounds() > 1)
                .then_some((w.wal_bytes_per_op_spread.min, w.wal_bytes_per_op_spread.max)),
            bytes(w.wal_bytes_per_op),
        )
    });
    let _ = writeln!(
        out,
        "<h2 id=\"cost\">What the indexes cost</h2>\n<div class=\"grid3\"><div class=\"panel\"><h3>Index size</h3>{size}</div>\
         <div class=\"panel\"><h3>Bookings per second</h3>{rate}</div><div class=\"panel\"><h3>WAL per booking</h3>{wal}</div></div>\n\
         <p class=\"caption\">Secondary indexes only; the {} of constraint indexes (primary keys, unique keys, exclusion) are the same for every strategy. \
         Writes: {} bookings and {} cancellations, one round trip each, in a rolled-back transaction after a CHECKPOINT; the median of {} passes after a warm-up pass, \
         the thin line the range of the passes.</p>",
        escape(&bytes(c.dataset.constraint_index_bytes as f64)),
        c.strategies.first().map_or(0, |s| s.writes.bookings.count),
        c.strategies
            .first()
            .map_or(0, |s| s.writes.cancellations.count),
        c.method.rounds
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
        for (i, s) in c.strategies.iter().enumerate() {
            let label = format!(
                " data-label=\"{}\" style=\"--chip:{}\"",
                escape(&s.name),
                charts::css_color(i)
            );
            match s.query(&name) {
                Some(q) => {
                    let _ = write!(
                        out,
                        "<td{label}>{}{}",
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
                None => {
                    let _ = write!(out, "<td{label}>-</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n<p class=\"caption\">Expectations met / declared, for the custom and the generic plan, and the expectations that failed. Hover a badge for what the plan showed; the plans below have the details.</p>\n");
}

fn latency_table(out: &mut String, c: &Comparison) {
    out.push_str(
        "<h2 id=\"figures\">Latency and plan figures</h2>\n<div class=\"panel\"><table><tr><th>query</th><th>strategy</th>\
         <th>custom p50</th><th>rounds' p50</th><th>p95</th><th>p99</th><th>generic p50</th><th>rounds' p50</th><th>p95</th><th>p99</th>\
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
        // The fastest p50 per query and mode, marked only when it is faster than every other
        // strategy beyond noise (its rounds' range below every other's).
        let best = |mode: Mode| {
            let fastest = best(&|q| q.plan(mode).latency.p50_ms);
            let winner = rows.iter().find(|(_, _, q)| {
                #[allow(clippy::float_cmp, reason = "fastest is one of the values")]
                let is = q.plan(mode).latency.p50_ms == fastest;
                is
            });
            match winner {
                Some((_, w, wq))
                    if rows.iter().all(|(_, s, q)| {
                        s.name == w.name
                            || wq
                                .plan(mode)
                                .latency
                                .p50_rounds
                                .separated(&q.plan(mode).latency.p50_rounds)
                                == Some(std::cmp::Ordering::Less)
                    }) =>
                {
                    fastest
                }
                _ => f64::NAN,
            }
        };
        let best_custom = best(Mode::Custom);
        let best_generic = best(Mode::Generic);
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
                "<tr>{first}<td><span class=\"chip\" style=\"background:{}\">{}</span></td>{}{}{}{}{}{}{}{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                charts::css_color(*i),
                escape(&s.name),
                cell(q.custom.latency.p50_ms, best_custom),
                range_cell(&q.custom.latency.p50_rounds),
                cell(q.custom.latency.p95_ms, f64::NAN),
                cell(q.custom.latency.p99_ms, f64::NAN),
                cell(q.generic.latency.p50_ms, best_generic),
                range_cell(&q.generic.latency.p50_rounds),
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
    out.push_str("</table></div>\n<p class=\"caption\">Milliseconds; the fastest p50 per query in bold, only when its rounds' range lies below every other strategy's. Planning and execution time and shared buffers (custom plan) come from EXPLAIN (ANALYZE, BUFFERS) of one warm execution; latency from real executions. The plan shapes are under Plans.</p>\n");
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
    out.push_str("</table></div>\n<h3>Write cost</h3><div class=\"panel\"><table><tr><th>strategy</th><th>write</th><th>count</th><th>per s (median pass)</th><th>every pass</th><th>p50 / p95 / p99 ms</th><th>WAL</th><th>WAL per write</th></tr>\n");
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
                escape(&rate_with_range(w.per_sec, &w.per_sec_spread)),
                super::passes(w),
                percentiles(&w.latency),
                escape(&bytes(w.wal_bytes as f64)),
                escape(&bytes(w.wal_bytes_per_op))
            );
        }
    }
    out.push_str("</table></div>\n");
}

fn range_cell(s: &crate::compare::model::Spread) -> String {
    format!("<td class=\"num range\">{}</td>", escape(&range_ms(s)))
}

fn contention(out: &mut String, c: &Comparison) {
    let sweeps: Vec<(usize, &StrategyResult, &crate::compare::model::Contention)> = c
        .strategies
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.contention.as_ref().map(|ct| (i, s, ct)))
        .collect();
    if sweeps.is_empty() && c.race.is_none() {
        return;
    }
    out.push_str("<h2 id=\"contention\">Bookings under contention</h2>\n");
    if let Some((_, _, first)) = sweeps.first() {
        let mut clients: Vec<usize> = first.levels.iter().map(|l| l.clients).collect();
        clients.dedup();
        let xs: Vec<String> = clients.iter().map(ToString::to_string).collect();
        let series =
            |figure: &dyn Fn(&crate::compare::model::ContentionLevel) -> f64| -> Vec<Line> {
                sweeps
                    .iter()
                    .flat_map(|(i, s, ct)| {
                        [false, true].map(|collisions| Line {
                            name: if collisions {
                                format!(
                                    "{}, {} collisions",
                                    s.name,
                                    fmt::percent(ct.collision_share)
                                )
                            } else {
                                s.name.clone()
                            },
                            color: *i,
                            dashed: collisions,
                            points: clients
                                .iter()
                                .map(|n| ct.level(*n, collisions).map(figure))
                                .collect(),
                        })
                    })
                    .collect()
            };
        let (rate, p99) = (series(&|l| l.per_sec), series(&|l| l.latency.p99_ms));
        let chart = |title: &str, y: &str, lines: &[Line]| {
            format!(
                "<div class=\"panel\"><div class=\"wide\">{}</div><div class=\"narrow\">{}</div></div>",
                charts::lines(title, "clients", y, &xs, lines, 640),
                charts::lines(title, "clients", y, &xs, lines, 380)
            )
        };
        let _ = writeln!(
            out,
            "<div class=\"grid2\">{}{}</div>\n<p class=\"caption\">Each client is a thread with its own connection, booking as <code>qcheck_app</code> \
             through the application's path (BEGIN, set_config of app.tenant_id, the prepared INSERT, COMMIT) for {} s per point; providers by Zipf. \
             Solid: every booking in a free slot; dashed: {} of the bookings aim at a slot another client has just taken. Bookings/s counts answered \
             attempts (booked or 23P01); p99 is over every attempt.</p>",
            chart("Bookings per second", "answered bookings/s", &rate),
            chart("Booking latency p99 (ms)", "p99 ms", &p99),
            fmt::sig3(first.seconds_per_level),
            fmt::percent(first.collision_share)
        );
        for (i, s, ct) in &sweeps {
            let (h, rows) = super::contention_rows(ct);
            table(out, Some((*i, &s.name)), &h, &rows, &[3, 4, 5, 6, 7, 8]);
        }
    }
    if let Some(r) = &c.race {
        let _ = writeln!(
            out,
            "<h3>Collision race</h3><p>{} clients connect, wait at a barrier and are released at once, client <i>i</i> booking shape <i>i</i> mod 5 of \
             <code>{}</code> of one provider across {} (strategy <code>{}</code>).</p>",
            r.clients,
            escape(&r.shapes.join(", ")),
            escape(&r.boundary),
            escape(&r.strategy)
        );
        let (h, rows) = super::race_rows(r);
        table(out, None, &h, &rows, &[1, 2, 3, 4, 5]);
    }
    let targets = super::contention_targets(c);
    if !targets.is_empty() {
        out.push_str("<h3>Targets (issue 11)</h3><ul class=\"targets\">");
        for (target, met, found) in targets {
            let _ = write!(
                out,
                "<li><span class=\"badge {}\">{}</span> {} <span class=\"shape\">— {}</span></li>",
                if met { "ok" } else { "bad" },
                if met { "met" } else { "not met" },
                escape(&target),
                escape(&found)
            );
        }
        out.push_str("</ul>\n");
    }
}

/// A table in a panel; `chip` adds a caption chip; columns in `numeric` are right-aligned.
pub(super) fn table(
    out: &mut String,
    chip: Option<(usize, &str)>,
    header: &[&str],
    rows: &[Vec<String>],
    numeric: &[usize],
) {
    if let Some((i, name)) = chip {
        let _ = write!(
            out,
            "<p><span class=\"chip\" style=\"background:{}\">{}</span></p>",
            charts::css_color(i),
            escape(name)
        );
    }
    out.push_str("<div class=\"panel\"><table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (k, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&k) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
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
