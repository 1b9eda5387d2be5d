//! Rendering of `qcheck explain` (one plan: tree, verdicts, tips) and `qcheck check` (a summary row
//! per query) for the terminal and Markdown. JSON is the serialized `outcome` types themselves.

use crate::analysis::{PlanCheck, QueryCheck, SchemaFinding};
use crate::expect::Verdict;
use crate::report::text::{self, Align};
use crate::report::tree::{Mark, render_tree};
use crate::report::{Format, Layout, fmt, table};
use crate::tips::Severity;

/// A plan's verdict cell (see [`fmt::verdict`]): `3/3 ok`, `1/3 FAIL`, `2/3, 1 undecided`,
/// `exempt (2/3)`.
pub fn verdict_cell(p: &PlanCheck) -> String {
    let total = p.verdicts.len();
    let ok = p.verdicts.iter().filter(|v| v.passed).count();
    fmt::verdict(ok, p.undecided(), total, p.exempt)
}

fn buffers(p: &PlanCheck) -> String {
    let b = &p.facts.buffers;
    match (b.shared_hit, b.shared_read) {
        (None, None) => fmt::MISSING.into(),
        (h, r) => fmt::count_u64(h.unwrap_or(0).saturating_add(r.unwrap_or(0))),
    }
}

/// The `qcheck check` summary: one row per query, at its natural width (a wide table; Markdown in
/// `Format::Markdown`). [`summary_in`] lays it out for a terminal of a given width.
pub fn summary(checks: &[QueryCheck], format: Format) -> String {
    summary_in(checks, format, usize::MAX)
}

/// The header of the full check table.
const SUMMARY_HEADER: [&str; 8] = [
    "query",
    "plan (custom)",
    "custom",
    "generic",
    "exec ms (custom/generic)",
    "plan ms (custom/generic)",
    "shared buffers",
    "result",
];

/// The `qcheck check` summary for a terminal `width` columns wide: the full table when it fits,
/// else the compact layout — borderless columns with each query's plan on a line of its own, and
/// the failed expectations wrapped with a hanging indent (query and index names are never broken).
/// Markdown ignores the width.
pub fn summary_in(checks: &[QueryCheck], format: Format, width: usize) -> String {
    let timings = |c: &QueryCheck, f: fn(&crate::plan::Facts) -> Option<f64>| {
        format!(
            "{} / {}",
            fmt::ms(f(&c.custom.facts)),
            fmt::ms(f(&c.generic.facts))
        )
    };
    let exec = |f: &crate::plan::Facts| f.execution_time_ms;
    let plan = |f: &crate::plan::Facts| f.planning_time_ms;
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.custom.shape(),
                verdict_cell(&c.custom),
                verdict_cell(&c.generic),
                timings(c, exec),
                timings(c, plan),
                buffers(&c.custom),
                fmt::pass_fail(c.passed).into(),
            ]
        })
        .collect();
    let markdown = format == Format::Markdown;
    let full = if markdown {
        table(format, &SUMMARY_HEADER, &rows)
    } else {
        natural_table(&SUMMARY_HEADER, &rows)
    };
    let compact = !markdown && text::max_line_width(&full) > width;
    let mut out = if compact {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.remove(1);
                r
            })
            .collect();
        let details: Vec<Vec<String>> = checks
            .iter()
            .map(|c| vec![format!("plan: {}", c.custom.shape())])
            .collect();
        text::columns(
            &[
                "query",
                "custom",
                "generic",
                "exec ms c/g",
                "plan ms c/g",
                "buffers",
                "result",
            ],
            &[
                Align::Left,
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left,
            ],
            &rows,
            &details,
            width,
        )
    } else {
        full
    };
    if compact {
        out.push_str(&compact_failures(checks, width));
    } else {
        let failures: Vec<String> = checks.iter().flat_map(failure_lines).collect();
        if !failures.is_empty() {
            out.push_str(if markdown {
                "\n**Failed expectations**\n\n"
            } else {
                "\nFailed expectations:\n"
            });
            for f in failures {
                out.push_str(&format!("{}{f}\n", if markdown { "- " } else { "  " }));
            }
        }
    }
    let passed = checks.iter().filter(|c| c.passed).count();
    out.push_str(&format!("\n{passed} of {} queries pass\n", checks.len()));
    out
}

/// A table at its natural width (cells never wrap): what fits a terminal is decided by the caller.
fn natural_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for row in rows {
        t.add_row(row.iter().map(String::as_str));
    }
    t.to_string()
}

/// The failed verdicts of `c` that fail the gate, with their plan mode.
fn failed_verdicts(c: &QueryCheck) -> Vec<(&'static str, &Verdict)> {
    let mut out = Vec::new();
    for p in [&c.custom, &c.generic] {
        if p.exempt {
            continue;
        }
        let mode = p.mode.map_or("plan", crate::plan::Mode::as_str);
        out.extend(p.verdicts.iter().filter(|v| !v.passed).map(|v| (mode, v)));
    }
    out
}

/// What was found and where, said once: the location is added only when `found` does not name it.
fn found_at(v: &Verdict) -> String {
    match v.location.as_deref().filter(|l| !v.found.contains(l)) {
        Some(l) => format!("{} at {l}", v.found),
        None => v.found.clone(),
    }
}

/// One line per failed verdict: `query (mode) file:line: `expect`: expected …, found … [at …]`.
pub fn failure_lines(c: &QueryCheck) -> Vec<String> {
    failed_verdicts(c)
        .into_iter()
        .map(|(mode, v)| {
            format!(
                "{} ({mode}) {}:{}: `{}`: expected {}, found {}",
                c.name,
                v.file,
                v.line,
                v.text,
                v.expected,
                found_at(v)
            )
        })
        .collect()
}

/// The failed verdicts for a terminal `width` wide: the query, mode, `file:line` and expectation on
/// one line, what was expected and found wrapped below it. When every file is in one folder, the
/// folder is named once in the heading and the lines show file names.
fn compact_failures(checks: &[QueryCheck], width: usize) -> String {
    let failed: Vec<(&QueryCheck, &str, &Verdict)> = checks
        .iter()
        .flat_map(|c| failed_verdicts(c).into_iter().map(move |(m, v)| (c, m, v)))
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let dirs: std::collections::BTreeSet<&str> = failed
        .iter()
        .map(|(_, _, v)| v.file.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    let common = match dirs.iter().next() {
        Some(dir) if dirs.len() == 1 && !dir.is_empty() => Some(*dir),
        _ => None,
    };
    let heading = match common {
        Some(dir) => format!("Failed expectations (query files in {dir}/):"),
        None => "Failed expectations:".to_string(),
    };
    let mut out = format!("\n{}", text::wrapped(&heading, width, "", "  "));
    for (c, mode, v) in failed {
        let file = match common {
            Some(dir) => v
                .file
                .strip_prefix(dir)
                .unwrap_or(&v.file)
                .trim_start_matches('/'),
            None => &v.file,
        };
        out.push_str(&text::wrapped(
            &format!("{} ({mode}) {file}:{}: `{}`", c.name, v.line, v.text),
            width,
            "  ",
            "      ",
        ));
        out.push_str(&text::wrapped(
            &format!("expected {}, found {}", v.expected, found_at(v)),
            width,
            "      ",
            "      ",
        ));
    }
    out
}

/// Marks for the tree: failed verdicts and tips, on the nodes they point at.
fn marks(p: &PlanCheck) -> Vec<Mark> {
    let mut marks = Vec::new();
    for v in &p.verdicts {
        let status = if v.passed {
            "ok"
        } else if v.undecided {
            "UNDECIDED"
        } else {
            "FAIL"
        };
        let label = format!("{status} {}", v.text);
        for node in &v.nodes {
            if !v.passed {
                marks.push(Mark::new(*node, label.clone()));
            }
        }
    }
    for t in &p.tips {
        marks.push(Mark::new(t.node, format!("tip: {}", t.id)));
    }
    marks
}

/// `qcheck explain` for one plan: tree, verdicts, tips. In a table `layout` with a width, long
/// lines wrap with a hanging indent (tree lines under their node's description) and the verdict
/// table becomes a list when it does not fit.
pub fn explain_plan(title: &str, p: &PlanCheck, format: Format, layout: Layout) -> String {
    let mut out = String::new();
    let md = format == Format::Markdown;
    let width = if md { usize::MAX } else { layout.width };
    if md {
        out.push_str(&format!("### {title}\n\n```text\n"));
    } else {
        out.push_str(&text::fit(title, width, "  "));
    }
    if let Some(q) = &p.facts.query_text {
        // One line: the query's own line breaks and indentation collapse to spaces.
        let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&text::fit(&format!("Query Text: {q}"), width, "    "));
    }
    let tree = render_tree(&p.plan, &marks(p), layout.color && !md);
    for line in tree.lines() {
        out.push_str(&text::fit_tree_line(line, width, "    "));
    }
    if md {
        out.push_str("```\n");
    }
    out.push('\n');
    if p.verdicts.is_empty() {
        out.push_str("No expectations.\n");
    } else {
        let status = |v: &Verdict| -> &'static str {
            if v.passed {
                "ok"
            } else if p.exempt {
                "fail (exempt)"
            } else if v.undecided && p.allow_undecided {
                "undecided (allowed)"
            } else if v.undecided {
                "UNDECIDED"
            } else {
                "FAIL"
            }
        };
        let rows: Vec<Vec<String>> = p
            .verdicts
            .iter()
            .map(|v| vec![status(v).into(), v.text.clone(), v.found.clone()])
            .collect();
        let header = ["", "expectation", "found (where in the plan)"];
        let full = if md {
            table(format, &header, &rows)
        } else {
            natural_table(&header, &rows)
        };
        if md || text::max_line_width(&full) <= width {
            out.push_str(&full);
            out.push('\n');
        } else {
            // A list: the status and expectation on a line, what was found wrapped under it.
            let w = p
                .verdicts
                .iter()
                .map(|v| status(v).len())
                .max()
                .unwrap_or(0);
            out.push_str("Expectations:\n");
            for v in &p.verdicts {
                let first = format!("  {:<w$}  ", status(v));
                let rest = " ".repeat(w + 4);
                out.push_str(&text::wrapped(&v.text, width, &first, &rest));
                out.push_str(&text::wrapped(
                    &format!("found {}", v.found),
                    width,
                    &format!("{rest}  "),
                    &format!("{rest}    "),
                ));
            }
        }
    }
    if !p.facts.settings.is_empty() {
        // Non-default settings explain plan choices (work_mem, enable_*, random_page_cost).
        let list: Vec<String> = p
            .facts
            .settings
            .iter()
            .map(|s| format!("{} = {}", s.name, s.value))
            .collect();
        if md {
            out.push('\n');
        }
        out.push_str(&text::wrapped(
            &format!("Settings: {}", list.join(", ")),
            width,
            "",
            "    ",
        ));
    }
    if !p.tips.is_empty() {
        out.push_str(if md { "\n**Tips**\n\n" } else { "\nTips:\n" });
        for t in &p.tips {
            let sev = match t.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
            };
            out.push_str(&text::wrapped(
                &format!("[{sev}] {} at {}: {}", t.id, t.location, t.message),
                width,
                if md { "- " } else { "  " },
                if md { "  " } else { "      " },
            ));
        }
    }
    out
}

/// `qcheck explain --query` output: the chosen plan in full, the other one's verdicts in a line.
pub fn explain_query(c: &QueryCheck, generic: bool, format: Format, layout: Layout) -> String {
    let width = if format == Format::Markdown {
        usize::MAX
    } else {
        layout.width
    };
    // Who the plans were captured as: the role and tenant, or the connecting user (--as-owner).
    let who = match (&c.role, &c.params.tenant) {
        (Some(role), Some(tenant)) => format!("role {role}, app.tenant_id = {tenant}"),
        (Some(role), None) => format!("role {role}"),
        (None, _) => "the connecting user, as connected".to_string(),
    };
    let mut out = if format == Format::Markdown {
        format!(
            "## {}\n\n{}\n\nparams: `{}`  \nas: {who}\n\n",
            c.name,
            c.summary,
            c.params.display()
        )
    } else {
        let mut head = text::wrapped(&format!("{} — {}", c.name, c.summary), width, "", "    ");
        head.push_str(&text::wrapped(
            &format!("params: {}", c.params.display()),
            width,
            "",
            "    ",
        ));
        head.push_str(&text::wrapped(&format!("as: {who}"), width, "", "    "));
        head.push('\n');
        head
    };
    let generic_title = match &c.generic_exempt {
        Some(reason) => {
            format!("Generic plan (plan_cache_mode = force_generic_plan; exempt: {reason})")
        }
        None => "Generic plan (plan_cache_mode = force_generic_plan)".into(),
    };
    let custom_title = "Custom plan (plan_cache_mode = force_custom_plan)";
    let (shown, title, other, other_name) = if generic {
        (&c.generic, generic_title.as_str(), &c.custom, "custom")
    } else {
        (&c.custom, custom_title, &c.generic, "generic")
    };
    out.push_str(&explain_plan(title, shown, format, layout));
    out.push('\n');
    out.push_str(&text::wrapped(
        &format!(
            "The {other_name} plan: {} — {} (see it with{} --generic)",
            verdict_cell(other),
            other.shape(),
            if generic { "out" } else { "" }
        ),
        width,
        "",
        "    ",
    ));
    out.push_str(&format!("\nResult: {}\n", fmt::pass_fail(c.passed)));
    out
}

/// The schema findings under `check`'s table (see [`SchemaFinding`]): after a blank line, one `FAIL`
/// line each with the SQL that fixes it, wrapped to `width` (Markdown: a list). Empty when there
/// are none.
pub fn findings(findings: &[SchemaFinding], format: Format, width: usize) -> String {
    let mut out = String::new();
    if !findings.is_empty() {
        out.push('\n');
    }
    for f in findings {
        if format == Format::Markdown {
            out.push_str(&format!("- **FAIL** {}; fix: `{}`\n", f.message, f.fix));
        } else {
            let line = format!("FAIL {}; fix: {}", f.message, f.fix);
            out.push_str(&text::wrapped(&line, width, "", "    "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{INDEX_ONLY, SEQ_SCAN, query_check};

    fn checks() -> Vec<QueryCheck> {
        vec![
            query_check("patient_count", INDEX_ONLY, INDEX_ONLY),
            query_check("patient_range", SEQ_SCAN, INDEX_ONLY),
        ]
    }

    #[test]
    fn check_table() {
        insta::assert_snapshot!(summary(&checks(), Format::Table));
    }

    /// At 100 columns the check table takes the compact layout: no line is wider, no identifier
    /// is broken, the failure is said once.
    #[test]
    fn check_table_at_100_columns() {
        let out = summary_in(&checks(), Format::Table, 100);
        for line in out.lines() {
            assert!(text::visible_width(line) <= 100, "{line}");
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn check_markdown() {
        insta::assert_snapshot!(summary(&checks(), Format::Markdown));
    }

    /// `qcheck check --format json` serialises each `QueryCheck` as it is; timings redacted.
    #[test]
    fn check_json() {
        insta::assert_json_snapshot!(checks(), {
            "[].*.plan[0][\"Planning Time\"]" => "[ms]",
            "[].*.plan[0][\"Execution Time\"]" => "[ms]",
            "[].*.facts.planning_time_ms" => "[ms]",
            "[].*.facts.execution_time_ms" => "[ms]",
        });
    }

    /// Settings print under the verdicts; auto_explain's query text heads the plan.
    #[test]
    fn explain_plan_prints_settings_and_query_text() {
        let c = query_check("patient_range", SEQ_SCAN, SEQ_SCAN);
        let out = explain_plan("Custom plan", &c.custom, Format::Table, Layout::plain());
        assert!(!out.contains("Query Text:"), "{out}");
        let settings = out
            .find("Settings: max_parallel_workers_per_gather = 0\n")
            .expect(&out);
        assert!(out.find("no seq-scan").unwrap() < settings, "{out}");
        let auto_explain =
            include_str!("../../tests/fixtures/plans/real/pganalyze/003_jit_result_pg_sleep.json");
        let c = query_check("sleep", auto_explain, auto_explain);
        let out = explain_plan("Custom plan", &c.custom, Format::Table, Layout::plain());
        assert!(
            out.starts_with("Custom plan\nQuery Text: SELECT pg_sleep(2);\nResult (#0)"),
            "{out}"
        );
    }
}
