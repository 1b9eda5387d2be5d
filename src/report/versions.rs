//! Rendering of `qcheck check` on several PostgreSQL versions (`--pg-bin-dir` given more than
//! once): a section per version (its check table, and its baseline comparison with `--baseline`),
//! one table across the versions — per query, each version's verdict and whether each plan
//! changed from the previous version (versions in order: 15 → 17 → 18) —, then every changed
//! plan's tree diff.
//!
//! The plan differences come from the baseline comparison ([`crate::baseline::compare`]): the
//! same signatures, thresholds and tree diff as `check --baseline` and `qcheck diff`, rendered by
//! [`super::diff::changed_plan`]. They are reported, not judged: on each version the expectations
//! are the gate (and `--baseline`, when given); a plan that differs between versions is worth a
//! look, not a failure.

use std::fmt::Write as _;

use crate::analysis::{QueryCheck, SchemaFinding};
use crate::baseline::{Comparison, PlanComparison};
use crate::report::{Format, diff, fmt, table};

/// One version's run, as rendered.
#[derive(Debug, Clone, Copy)]
pub struct VersionRun<'a> {
    /// How the version is named in headings, columns and diffs: `PostgreSQL 15.20`.
    pub label: &'a str,
    /// Where its binaries are, as shown.
    pub bin_dir: &'a str,
    /// The checked queries, in order.
    pub checks: &'a [QueryCheck],
    /// What the version's database breaks of the data model (see [`SchemaFinding`]).
    pub findings: &'a [SchemaFinding],
    /// With `--baseline`: this version's comparison with the baseline file.
    pub baseline: Option<&'a Comparison>,
}

/// The whole report in the table or Markdown format. `diffs[i]` compares the plans of `runs[i]`
/// with those of `runs[i + 1]` (see [`crate::baseline::compare::compare`]).
pub fn render(runs: &[VersionRun], diffs: &[Comparison], format: Format, color: bool) -> String {
    let md = format == Format::Markdown;
    let mut out = String::new();
    for run in runs {
        if md {
            let _ = writeln!(out, "### {}\n\nbinaries: `{}`\n", run.label, run.bin_dir);
        } else {
            let _ = writeln!(out, "{} ({})", run.label, run.bin_dir);
        }
        out.push_str(&super::check::summary(run.checks, format));
        out.push_str(&super::check::findings(run.findings, format, usize::MAX));
        if let Some(c) = run.baseline {
            out.push('\n');
            out.push_str(&diff::comparison(c, format, color));
        }
        out.push('\n');
    }
    if runs.is_empty() {
        return out;
    }
    let path: Vec<&str> = runs.iter().map(|r| r.label).collect();
    let title = format!(
        "each plan compared with the previous version's, {} (shape, shared buffers beyond {}, \
         rows beyond {}; timing is not compared); differences are reported, not judged",
        path.join(" → "),
        diffs.first().map_or_else(
            || crate::baseline::Thresholds::default().buffers,
            |d| d.thresholds.buffers
        ),
        diffs.first().map_or_else(
            || crate::baseline::Thresholds::default().rows,
            |d| d.thresholds.rows
        ),
    );
    if md {
        let _ = writeln!(
            out,
            "### Across versions\n\nEach {}\n",
            &title["each ".len()..]
        );
    } else {
        let _ = writeln!(out, "Across versions: {title}");
    }
    for note in diffs.iter().flat_map(|d| &d.notes) {
        let _ = writeln!(out, "{}note: {note}", if md { "- " } else { "" });
    }
    if md && diffs.iter().any(|d| !d.notes.is_empty()) {
        out.push('\n');
    }
    let (header, rows) = across(runs, diffs);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&table(format, &header, &rows));
    if !md {
        out.push('\n');
    }
    for d in diffs {
        for q in &d.queries {
            for p in q.plans.iter().filter(|p| p.changed) {
                out.push('\n');
                let title = format!("{} → {}: {}", d.before, d.after, q.name);
                out.push_str(&diff::changed_plan(&title, p, format, color));
            }
        }
    }
    out.push('\n');
    out.push_str(&headline(runs, diffs));
    out.push('\n');
    out
}

/// The last line: each version's pass count (and schema findings), and how many plans differ from
/// the previous version.
pub fn headline(runs: &[VersionRun], diffs: &[Comparison]) -> String {
    let mut parts: Vec<String> = runs
        .iter()
        .map(|r| {
            let passed = r.checks.iter().filter(|c| c.passed).count();
            let baseline = match r.baseline {
                Some(c) if !c.passed => ", CHANGED against the baseline",
                Some(_) => ", same as the baseline",
                None => "",
            };
            let findings = match r.findings.len() {
                0 => String::new(),
                1 => ", 1 schema finding (FAIL)".into(),
                n => format!(", {n} schema findings (FAIL)"),
            };
            format!(
                "{}: {passed} of {} queries pass{findings}{baseline}",
                r.label,
                r.checks.len()
            )
        })
        .collect();
    for d in diffs {
        let (changed, total) = d.changed_plans();
        parts.push(format!(
            "{changed} of {total} plan{} differ between {} and {}",
            if total == 1 { "" } else { "s" },
            d.before,
            d.after
        ));
    }
    parts.join("; ")
}

/// The table across versions: per query, each version's verdict, then per later version and plan
/// mode whether the plan changed from the previous version's.
fn across(runs: &[VersionRun], diffs: &[Comparison]) -> (Vec<String>, Vec<Vec<String>>) {
    let modes = ["custom", "generic"];
    let mut header = vec!["query".to_string()];
    header.extend(runs.iter().map(|r| r.label.to_string()));
    for d in diffs {
        for mode in modes {
            header.push(format!("{mode} plan → {}", short(&d.after)));
        }
    }
    let Some(first) = runs.first() else {
        return (header, Vec::new());
    };
    let rows = first
        .checks
        .iter()
        .map(|c| {
            let mut row = vec![c.name.clone()];
            for r in runs {
                let verdict = r
                    .checks
                    .iter()
                    .find(|o| o.name == c.name)
                    .map_or(fmt::MISSING, |o| fmt::pass_fail(o.passed));
                row.push(verdict.to_string());
            }
            for d in diffs {
                let q = d.query(&c.name);
                for mode in modes {
                    let p = q.and_then(|q| q.plans.iter().find(|p| p.mode == mode));
                    row.push(p.map_or(fmt::MISSING.to_string(), plan_cell));
                }
            }
            row
        })
        .collect();
    (header, rows)
}

/// `same`, or `CHANGED` with what changed: `shape`, `buffers 3 → 22`, `rows`.
fn plan_cell(p: &PlanComparison) -> String {
    if !p.changed {
        return "same".into();
    }
    let mut why = Vec::new();
    if p.shape_changed {
        why.push("shape".to_string());
    }
    if p.shared_buffers.beyond
        && let (Some(b), Some(a)) = (p.shared_buffers.before, p.shared_buffers.after)
    {
        why.push(format!(
            "buffers {} → {}",
            fmt::count_u64(b),
            fmt::count_u64(a)
        ));
    }
    if p.rows.beyond {
        why.push("rows".into());
    }
    format!("CHANGED ({})", why.join(", "))
}

/// `18.4` of `PostgreSQL 18.4`: column headers stay narrow.
fn short(label: &str) -> &str {
    label.strip_prefix("PostgreSQL ").unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Baseline, Thresholds, compare::compare};
    use crate::plan::{PartitionMap, parse_plan};
    use crate::report::test_support;

    const DAY: &str =
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json");
    const PG15: &str =
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_initplan.json");
    const PG18: &str =
        include_str!("../../tests/fixtures/plans/pg18_partition_prune_initplan.json");

    /// A baseline of one query in both modes, both modes the same plan.
    fn baseline(name: &str, plan: &str) -> Baseline {
        let plan = parse_plan(plan).unwrap();
        let sig = crate::plan::Signature::compute(&plan, &PartitionMap::none());
        let mut b = Baseline::new(None, None);
        let mut q = crate::baseline::QueryBaseline {
            params: std::collections::BTreeMap::new(),
            plans: std::collections::BTreeMap::new(),
        };
        q.plans.insert("custom".into(), sig.clone());
        q.plans.insert("generic".into(), sig);
        b.queries.insert(name.into(), q);
        b
    }

    fn merged(parts: &[Baseline]) -> Baseline {
        let mut b = Baseline::new(None, None);
        for p in parts {
            b.queries.extend(p.queries.clone());
        }
        b
    }

    /// Two versions: `day` plans the same on both, `month` (the InitPlan-pruned aggregate) reads
    /// appointment with a seq scan on 15 and an index-only scan on 18 (the real plans of
    /// tests/fixtures/plans); 15 passes both queries, 18 fails `day`.
    fn report(format: Format) -> String {
        use test_support::{INDEX_ONLY, SEQ_SCAN, query_check};
        let checks15 = vec![
            query_check("day", INDEX_ONLY, INDEX_ONLY),
            query_check("month", INDEX_ONLY, INDEX_ONLY),
        ];
        let checks18 = vec![
            query_check("day", SEQ_SCAN, INDEX_ONLY),
            query_check("month", INDEX_ONLY, INDEX_ONLY),
        ];
        let before = merged(&[baseline("day", DAY), baseline("month", PG15)]);
        let after = merged(&[baseline("day", DAY), baseline("month", PG18)]);
        let diffs = vec![compare(
            &before,
            &after,
            "PostgreSQL 15.20",
            "PostgreSQL 18.4",
            Thresholds::default(),
            vec!["PostgreSQL 15.20 → 18.4: a major-version upgrade".into()],
        )];
        let runs = [
            VersionRun {
                label: "PostgreSQL 15.20",
                bin_dir: "/usr/lib/postgresql/15/bin",
                checks: &checks15,
                findings: &[],
                baseline: None,
            },
            VersionRun {
                label: "PostgreSQL 18.4",
                bin_dir: "target/pg18/bin",
                checks: &checks18,
                findings: &[],
                baseline: None,
            },
        ];
        render(&runs, &diffs, format, false)
    }

    #[test]
    fn table() {
        insta::assert_snapshot!(report(Format::Table));
    }

    #[test]
    fn markdown() {
        insta::assert_snapshot!(report(Format::Markdown));
    }

    #[test]
    fn the_headline_counts_passes_and_differing_plans() {
        let out = report(Format::Table);
        let last = out.trim_end().lines().last().unwrap();
        assert_eq!(
            last,
            "PostgreSQL 15.20: 2 of 2 queries pass; PostgreSQL 18.4: 1 of 2 queries pass; \
             2 of 4 plans differ between PostgreSQL 15.20 and PostgreSQL 18.4"
        );
    }

    #[test]
    fn a_versions_schema_findings_show_in_its_section_and_the_headline() {
        use test_support::{INDEX_ONLY, query_check};
        let checks = vec![query_check("day", INDEX_ONLY, INDEX_ONLY)];
        let findings = [crate::analysis::SchemaFinding::unguarded_partition(
            "appointment_y2090m01",
        )];
        let runs = [VersionRun {
            label: "PostgreSQL 18.4",
            bin_dir: "bin",
            checks: &checks,
            findings: &findings,
            baseline: None,
        }];
        let out = render(&runs, &[], Format::Table, false);
        assert!(
            out.contains(
                "FAIL partition appointment_y2090m01 of appointment has no exclusion constraint"
            ),
            "{out}"
        );
        assert!(
            out.trim_end()
                .ends_with("PostgreSQL 18.4: 1 of 1 queries pass, 1 schema finding (FAIL)"),
            "{out}"
        );
    }
}
