//! `--format github`: GitHub Actions workflow commands, so that a failed expectation shows as an
//! annotation on the line of the query file that declares it.
//!
//! - `::error file=…,line=N,title=…::…` for each failed expectation (and each undecided one, unless
//!   `--allow-undecided`);
//! - `::warning file=…,line=N,title=…::…` for an undecided expectation that was allowed, and
//!   `::warning file=…,title=…::…` for each warning-level tip;
//! - `::error title=…::…` for each schema finding (a broken promise of the data model, which has no
//!   line in a query file), with the SQL that fixes it.
//!
//! Values are escaped as GitHub's toolkit does: `%`, `\r`, `\n` in the message, and also `:` and `,`
//! in properties. File paths are made relative to the workspace (the current folder, which the
//! command passes in) so that GitHub can place them. The job summary (Markdown) is the `markdown`
//! format's output; the command appends it to `$GITHUB_STEP_SUMMARY`.

use std::path::Path;

use crate::analysis::SchemaFinding;
use crate::report::junit::{Case, finding_message};
use crate::tips::Severity;

/// A message (the part after `::`), escaped: `%`, `\r`, `\n`.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value (`file=`, `title=`), escaped: `%`, `\r`, `\n`, `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `file` relative to `workspace` when it lies inside it, else as it is.
pub fn relative(file: &str, workspace: Option<&Path>) -> String {
    workspace
        .and_then(|w| Path::new(file).strip_prefix(w).ok())
        .map_or_else(|| file.to_string(), |p| p.display().to_string())
}

/// One workflow command: `::LEVEL file=F[,line=N],title=T::MESSAGE`.
fn command(level: &str, file: &str, line: Option<usize>, title: &str, message: &str) -> String {
    let line = line.map(|l| format!(",line={l}")).unwrap_or_default();
    format!(
        "::{level} file={}{line},title={}::{}\n",
        escape_property(file),
        escape_property(title),
        escape_data(message)
    )
}

/// The annotations for `cases` and `findings`, one line each; paths relative to `workspace`.
pub fn annotations(cases: &[Case], findings: &[SchemaFinding], workspace: Option<&Path>) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "::error title={}::{}\n",
            escape_property(&format!("schema: {}", f.subject)),
            escape_data(&finding_message(f))
        ));
    }
    for case in cases {
        for v in case.failures() {
            let what = if v.undecided { "undecided" } else { "failed" };
            out.push_str(&command(
                "error",
                &relative(&v.file, workspace),
                Some(v.line),
                &format!("{}: expectation {what}", case.name),
                &format!("`{}`: expected {}, found {}", v.text, v.expected, v.found),
            ));
        }
        for v in case.allowed_undecided() {
            out.push_str(&command(
                "warning",
                &relative(&v.file, workspace),
                Some(v.line),
                &format!("{}: expectation undecided (allowed)", case.name),
                &format!("`{}`: expected {}, found {}", v.text, v.expected, v.found),
            ));
        }
        let Some(file) = &case.file else { continue };
        for t in case
            .plan
            .tips
            .iter()
            .filter(|t| t.severity == Severity::Warning)
        {
            out.push_str(&command(
                "warning",
                &relative(file, workspace),
                None,
                &format!("{}: tip {}", case.name, t.id),
                &format!("at {}: {}", t.location, t.message),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{INDEX_ONLY, SEQ_SCAN, query_check};

    #[test]
    fn escapes_as_the_actions_toolkit_does() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("a: b, 5%\n"), "a%3A b%2C 5%25%0A");
    }

    #[test]
    fn paths_are_made_relative_to_the_workspace() {
        let ws = Path::new("/home/runner/work/app");
        assert_eq!(
            relative("/home/runner/work/app/q/a.sql", Some(ws)),
            "q/a.sql"
        );
        assert_eq!(relative("/elsewhere/a.sql", Some(ws)), "/elsewhere/a.sql");
        assert_eq!(relative("sql/queries/a.sql", None), "sql/queries/a.sql");
    }

    #[test]
    fn github_annotations() {
        let checks = vec![
            query_check("patient_count", INDEX_ONLY, INDEX_ONLY),
            query_check("patient_range", SEQ_SCAN, INDEX_ONLY),
        ];
        insta::assert_snapshot!(annotations(&Case::of_queries(&checks), &[], None));
        let finding = SchemaFinding::unguarded_partition("appointment_y2026m03");
        assert_eq!(
            annotations(&[], &[finding], None),
            "::error title=schema%3A appointment_y2026m03::partition appointment_y2026m03 of \
             appointment has no exclusion constraint: double bookings in its month are not \
             refused; fix: SELECT add_appointment_partition_exclusion('appointment_y2026m03')\n"
        );
    }
}
