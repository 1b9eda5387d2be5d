//! Rendering of `qcheck explain` (one plan: tree, verdicts, tips) and `qcheck check` (a summary row
//! per query) for the terminal and Markdown. JSON is the serialized `outcome` types themselves.

use crate::analysis::{PlanCheck, QueryCheck};
use crate::report::fmt;
use crate::report::tree::{Mark, render_tree};
use crate::report::{Format, table};
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

/// The `qcheck check` summary: one row per query.
pub fn summary(checks: &[QueryCheck], format: Format) -> String {
    let header = [
        "query",
        "plan (custom)",
        "custom",
        "generic",
        "exec ms (custom/generic)",
        "plan ms (custom/generic)",
        "shared buffers",
        "result",
    ];
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.custom.shape(),
                verdict_cell(&c.custom),
                verdict_cell(&c.generic),
                format!(
                    "{} / {}",
                    fmt::ms(c.custom.facts.execution_time_ms),
                    fmt::ms(c.generic.facts.execution_time_ms)
                ),
                format!(
                    "{} / {}",
                    fmt::ms(c.custom.facts.planning_time_ms),
                    fmt::ms(c.generic.facts.planning_time_ms)
                ),
                buffers(&c.custom),
                fmt::pass_fail(c.passed).into(),
            ]
        })
        .collect();
    let mut out = table(format, &header, &rows);
    let failures: Vec<String> = checks.iter().flat_map(failure_lines).collect();
    if !failures.is_empty() {
        out.push_str(if format == Format::Markdown {
            "\n**Failed expectations**\n\n"
        } else {
            "\nFailed expectations:\n"
        });
        for f in failures {
            out.push_str(&format!(
                "{}{f}\n",
                if format == Format::Markdown {
                    "- "
                } else {
                    "  "
                }
            ));
        }
    }
    let passed = checks.iter().filter(|c| c.passed).count();
    out.push_str(&format!("\n{passed} of {} queries pass\n", checks.len()));
    out
}

/// One line per failed verdict: `query (mode) file:line expect: found ... at ...`.
pub fn failure_lines(c: &QueryCheck) -> Vec<String> {
    let mut out = Vec::new();
    for p in [&c.custom, &c.generic] {
        if p.exempt {
            continue;
        }
        let mode = p.mode.map_or("plan", crate::plan::Mode::as_str);
        for v in p.verdicts.iter().filter(|v| !v.passed) {
            let at = v
                .location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            out.push(format!(
                "{} ({mode}) {}:{}: `{}`: expected {}, found {}{at}",
                c.name, v.file, v.line, v.text, v.expected, v.found
            ));
        }
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

/// `qcheck explain` for one plan: tree, verdicts, tips.
pub fn explain_plan(title: &str, p: &PlanCheck, format: Format, color: bool) -> String {
    let mut out = String::new();
    let md = format == Format::Markdown;
    if md {
        out.push_str(&format!("### {title}\n\n```text\n"));
    } else {
        out.push_str(&format!("{title}\n"));
    }
    if let Some(q) = &p.facts.query_text {
        // One line: the query's own line breaks and indentation collapse to spaces.
        let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!("Query Text: {q}\n"));
    }
    out.push_str(&render_tree(&p.plan, &marks(p), color && !md));
    if md {
        out.push_str("```\n");
    }
    out.push('\n');
    if p.verdicts.is_empty() {
        out.push_str("No expectations.\n");
    } else {
        let rows: Vec<Vec<String>> = p
            .verdicts
            .iter()
            .map(|v| {
                vec![
                    if v.passed {
                        "ok".into()
                    } else if p.exempt {
                        "fail (exempt)".into()
                    } else if v.undecided && p.allow_undecided {
                        "undecided (allowed)".into()
                    } else if v.undecided {
                        "UNDECIDED".into()
                    } else {
                        "FAIL".into()
                    },
                    v.text.clone(),
                    v.found.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            format,
            &["", "expectation", "found (where in the plan)"],
            &rows,
        ));
        out.push('\n');
    }
    if !p.facts.settings.is_empty() {
        // Non-default settings explain plan choices (work_mem, enable_*, random_page_cost).
        let list: Vec<String> = p
            .facts
            .settings
            .iter()
            .map(|s| format!("{} = {}", s.name, s.value))
            .collect();
        out.push_str(&format!(
            "{}Settings: {}\n",
            if md { "\n" } else { "" },
            list.join(", ")
        ));
    }
    if !p.tips.is_empty() {
        out.push_str(if md { "\n**Tips**\n\n" } else { "\nTips:\n" });
        for t in &p.tips {
            let sev = match t.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
            };
            out.push_str(&format!(
                "{}[{sev}] {} at {}: {}\n",
                if md { "- " } else { "  " },
                t.id,
                t.location,
                t.message
            ));
        }
    }
    out
}

/// `qcheck explain --query` output: the chosen plan in full, the other one's verdicts in a line.
pub fn explain_query(c: &QueryCheck, generic: bool, format: Format, color: bool) -> String {
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
        format!(
            "{} — {}\nparams: {}\nas: {who}\n\n",
            c.name,
            c.summary,
            c.params.display()
        )
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
    out.push_str(&explain_plan(title, shown, format, color));
    out.push_str(&format!(
        "\nThe {other_name} plan: {} — {} (see it with{} --generic)\n",
        verdict_cell(other),
        other.shape(),
        if generic { "out" } else { "" }
    ));
    out.push_str(&format!("\nResult: {}\n", fmt::pass_fail(c.passed)));
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
        let out = explain_plan("Custom plan", &c.custom, Format::Table, false);
        assert!(!out.contains("Query Text:"), "{out}");
        let settings = out
            .find("Settings: max_parallel_workers_per_gather = 0\n")
            .expect(&out);
        assert!(out.find("no seq-scan").unwrap() < settings, "{out}");
        let auto_explain =
            include_str!("../../tests/fixtures/plans/real/pganalyze/003_jit_result_pg_sleep.json");
        let c = query_check("sleep", auto_explain, auto_explain);
        let out = explain_plan("Custom plan", &c.custom, Format::Table, false);
        assert!(
            out.starts_with("Custom plan\nQuery Text: SELECT pg_sleep(2);\nResult (#0)"),
            "{out}"
        );
    }
}
