//! `--format junit`: the verdicts of `check` and `explain` as a JUnit XML report, which CI systems
//! (GitLab, Jenkins, Azure Pipelines, GitHub test-report actions) show as test results.
//!
//! One `<testcase>` per query and plan mode (`provider_day (custom plan)`), in one `<testsuite>`:
//! - each failed expectation is a `<failure>` whose message names `file:line`, the expectation, what
//!   was expected and what was found; an expectation the plan could not decide is a failure of type
//!   `undecided`, unless undecided verdicts are allowed (`--allow-undecided`);
//! - a plan whose only misses are allowed undecided verdicts, and a generic plan the query declares
//!   exempt, is `<skipped>` with the reason: the gate passed it without proving it;
//! - the plan's shape and its tips are the test case's `<system-out>`;
//! - each schema finding (a broken promise of the data model, e.g. a partition of `appointment`
//!   without its exclusion constraint) is a test case `schema: <subject>` of class `schema` with a
//!   failure of type `schema` whose message says what is wrong and the SQL that fixes it.
//!
//! Pure: the XML is written into memory with quick-xml, which escapes text and attributes.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::analysis::{PlanCheck, QueryCheck, SchemaFinding};
use crate::expect::Verdict;
use crate::tips::Severity;

/// One test case: a plan checked against its expectations.
#[derive(Debug, Clone)]
pub struct Case<'a> {
    /// The query's name (or, offline, the plan file's statement).
    pub query: String,
    /// The test case's name: `provider_day (custom plan)`.
    pub name: String,
    /// The query file, when there is one.
    pub file: Option<String>,
    /// The analysed plan.
    pub plan: &'a PlanCheck,
    /// Why the plan is exempt from its expectations (a generic plan the query exempts).
    pub exempt_reason: Option<&'a str>,
}

impl<'a> Case<'a> {
    /// The two cases of a checked query: its custom and its generic plan.
    pub fn of_query(c: &'a QueryCheck) -> [Case<'a>; 2] {
        let file = c.path.display().to_string();
        [&c.custom, &c.generic].map(|plan| Case {
            query: c.name.clone(),
            name: format!("{} ({} plan)", c.name, mode(plan)),
            file: Some(file.clone()),
            plan,
            exempt_reason: if plan.exempt {
                c.generic_exempt.as_deref()
            } else {
                None
            },
        })
    }

    /// The cases of every query, in order.
    pub fn of_queries(checks: &'a [QueryCheck]) -> Vec<Case<'a>> {
        checks.iter().flat_map(Case::of_query).collect()
    }

    /// How the case ends: its failed verdicts (undecided ones included unless allowed), and
    /// whether it is skipped (exempt, or passed only because undecided verdicts are allowed).
    pub fn failures(&self) -> Vec<&'a Verdict> {
        if self.plan.exempt {
            return Vec::new();
        }
        self.plan
            .verdicts
            .iter()
            .filter(|v| !(v.passed || (v.undecided && self.plan.allow_undecided)))
            .collect()
    }

    /// Verdicts the plan could not decide that were allowed to pass.
    pub fn allowed_undecided(&self) -> Vec<&'a Verdict> {
        if self.plan.exempt || !self.plan.allow_undecided {
            return Vec::new();
        }
        self.plan.verdicts.iter().filter(|v| v.undecided).collect()
    }

    /// Why the case is skipped, if it is.
    pub fn skipped(&self) -> Option<String> {
        if self.plan.exempt {
            return Some(format!(
                "exempt from its expectations: {}",
                self.exempt_reason.unwrap_or("the query says so")
            ));
        }
        let allowed = self.allowed_undecided();
        if self.failures().is_empty() && !allowed.is_empty() {
            let texts: Vec<String> = allowed.iter().map(|v| format!("`{}`", v.text)).collect();
            return Some(format!(
                "{} undecided, allowed by --allow-undecided: {}",
                plural(allowed.len(), "expectation"),
                texts.join(", ")
            ));
        }
        None
    }
}

/// `custom`, `generic`, or `plan` when the mode is unknown.
fn mode(p: &PlanCheck) -> &'static str {
    p.mode.map_or("unknown-mode", crate::plan::Mode::as_str)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The one-line failure message: `file:line: `text`: expected …, found …`.
pub fn failure_message(v: &Verdict) -> String {
    let undecided = if v.undecided { " (undecided)" } else { "" };
    format!(
        "{}:{}: `{}`{undecided}: expected {}, found {}",
        v.file, v.line, v.text, v.expected, v.found
    )
}

/// The failure's body: the message, where in the plan, and what would decide an undecided one.
fn failure_body(v: &Verdict) -> String {
    let mut body = failure_message(v);
    if let Some(l) = v.location.as_deref().filter(|l| !v.found.contains(l)) {
        body.push_str(&format!("\nat: {l}"));
    }
    if let Some(needs) = v.needs {
        body.push_str(&format!("\nneeds: {needs}"));
    }
    body
}

/// The plan's shape and its tips, one per line.
fn system_out(p: &PlanCheck) -> String {
    let mut out = format!("plan: {}\n", p.shape());
    for t in &p.tips {
        let sev = match t.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
        };
        out.push_str(&format!(
            "[{sev}] {} at {}: {}\n",
            t.id, t.location, t.message
        ));
    }
    out
}

/// Seconds, as JUnit's `time` attribute wants them.
fn seconds(ms: Option<f64>) -> String {
    format!("{:.6}", ms.unwrap_or(0.0).max(0.0) / 1000.0)
}

/// Characters XML 1.0 cannot carry at all (control characters other than tab and newlines):
/// replaced, so that any plan text yields a well-formed document.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// The JUnit XML report of `cases` and `findings` as one test suite named `suite` (`qcheck check`).
pub fn render(suite: &str, cases: &[Case], findings: &[SchemaFinding]) -> String {
    write(suite, cases, findings).expect("writing XML into memory cannot fail")
}

/// The one-line failure message of a schema finding: what is wrong, and the SQL that fixes it.
pub fn finding_message(f: &SchemaFinding) -> String {
    format!("{}; fix: {}", f.message, f.fix)
}

fn write(suite: &str, cases: &[Case], findings: &[SchemaFinding]) -> io::Result<String> {
    let tests = (cases.len() + findings.len()).to_string();
    let failures =
        (cases.iter().filter(|c| !c.failures().is_empty()).count() + findings.len()).to_string();
    let skipped = cases
        .iter()
        .filter(|c| c.skipped().is_some())
        .count()
        .to_string();
    let total_ms: f64 = cases
        .iter()
        .filter_map(|c| c.plan.facts.execution_time_ms)
        .sum();
    let time = seconds(Some(total_ms));
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
        ("time", time.as_str()),
    ];
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attribute(("name", "qcheck"))
        .with_attributes(counts)
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attribute(("name", suite))
                .with_attributes(counts)
                .write_inner_content(|w| {
                    for case in cases {
                        write_case(w, case)?;
                    }
                    for finding in findings {
                        write_finding(w, finding)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut out = String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8");
    out.push('\n');
    Ok(out)
}

fn write_case(w: &mut Writer<Vec<u8>>, case: &Case) -> io::Result<()> {
    let time = seconds(case.plan.facts.execution_time_ms);
    let name = xml_safe(&case.name);
    let class = xml_safe(&case.query);
    let mut element = w
        .create_element("testcase")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("classname", class.as_str()))
        .with_attribute(("time", time.as_str()));
    let file = case.file.as_deref().map(xml_safe);
    if let Some(file) = &file {
        element = element.with_attribute(("file", file.as_str()));
    }
    element.write_inner_content(|w| {
        for v in case.failures() {
            let message = xml_safe(&failure_message(v));
            let body = xml_safe(&failure_body(v));
            w.create_element("failure")
                .with_attribute(("message", message.as_str()))
                .with_attribute((
                    "type",
                    if v.undecided {
                        "undecided"
                    } else {
                        "expectation"
                    },
                ))
                .write_text_content(BytesText::new(&body))?;
        }
        if let Some(reason) = case.skipped() {
            let reason = xml_safe(&reason);
            w.create_element("skipped")
                .with_attribute(("message", reason.as_str()))
                .write_empty()?;
        }
        let out = xml_safe(&system_out(case.plan));
        w.create_element("system-out")
            .write_text_content(BytesText::new(&out))?;
        Ok(())
    })?;
    Ok(())
}

fn write_finding(w: &mut Writer<Vec<u8>>, f: &SchemaFinding) -> io::Result<()> {
    let name = xml_safe(&format!("schema: {}", f.subject));
    let message = xml_safe(&finding_message(f));
    w.create_element("testcase")
        .with_attribute(("name", name.as_str()))
        .with_attribute(("classname", "schema"))
        .with_attribute(("time", "0.000000"))
        .write_inner_content(|w| {
            w.create_element("failure")
                .with_attribute(("message", message.as_str()))
                .with_attribute(("type", "schema"))
                .write_text_content(BytesText::new(&message))?;
            Ok(())
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{INDEX_ONLY, SEQ_SCAN, query_check};

    #[test]
    fn junit_report() {
        let checks = vec![
            query_check("patient_count", INDEX_ONLY, INDEX_ONLY),
            query_check("patient_range", SEQ_SCAN, INDEX_ONLY),
        ];
        let xml = render("qcheck check", &Case::of_queries(&checks), &[]);
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn undecided_verdicts_fail_unless_allowed_then_skip() {
        let mut c = query_check("patient_range", SEQ_SCAN, INDEX_ONLY);
        let v = &mut c.custom.verdicts[0];
        v.undecided = true;
        v.needs = Some("a partition map");
        let [custom, _] = Case::of_query(&c);
        assert_eq!(custom.failures().len(), 1);
        assert!(custom.skipped().is_none());
        let xml = render("s", &[custom], &[]);
        assert!(xml.contains(r#"type="undecided""#), "{xml}");
        assert!(xml.contains("needs: a partition map"), "{xml}");
        c.allow_undecided();
        let [custom, generic] = Case::of_query(&c);
        assert!(custom.failures().is_empty());
        assert_eq!(
            custom.skipped().as_deref(),
            Some("1 expectation undecided, allowed by --allow-undecided: `no seq-scan`")
        );
        assert!(generic.skipped().is_none());
    }

    #[test]
    fn a_schema_finding_is_a_failed_test_case_naming_its_fix() {
        let checks = vec![query_check("patient_count", INDEX_ONLY, INDEX_ONLY)];
        let finding = SchemaFinding::unguarded_partition("appointment_y2026m03");
        let xml = render("qcheck check", &Case::of_queries(&checks), &[finding]);
        assert!(xml.contains(r#"tests="3" failures="1""#), "{xml}");
        assert!(
            xml.contains(r#"<testcase name="schema: appointment_y2026m03" classname="schema""#),
            "{xml}"
        );
        assert!(
            xml.contains(
                "double bookings in its month are not refused; fix: SELECT \
                 add_appointment_partition_exclusion(&apos;appointment_y2026m03&apos;)"
            ),
            "{xml}"
        );
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(xml_safe("a\u{1}b\tc\n"), "a\u{fffd}b\tc\n");
    }
}
