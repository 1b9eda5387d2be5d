//! Rendering of `qcheck list`: each query, what it answers, its parameters and its expectations
//! (with the plan mode an expectation is limited to, and a generic-plan exemption), as a table or
//! JSON.
//!
//! Pure: the command reads the catalog and prints the string returned here.

use super::{Format, table};
use crate::catalog::{AppliesTo, Query, Topology};

/// The query list in `format`: JSON is the catalog's queries as they serialize.
pub fn queries(format: Format, queries: &[Query]) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(queries)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
            + "\n";
    }
    let rows: Vec<Vec<String>> = queries
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                q.summary.clone(),
                q.params.join(", "),
                expectations(q).join("\n"),
            ]
        })
        .collect();
    table(
        format,
        &["query", "answers", "params", "expectations"],
        &rows,
    ) + "\n"
}

/// One line per expectation (`… (custom)` / `… (generic)` when limited to one plan), then the
/// generic-plan exemption if the query declares one.
fn expectations(q: &Query) -> Vec<String> {
    q.expects
        .iter()
        .map(|e| {
            let text = match e.mode {
                AppliesTo::Both => e.expectation.text.clone(),
                AppliesTo::Custom => format!("{} (custom)", e.expectation.text),
                AppliesTo::Generic => format!("{} (generic)", e.expectation.text),
            };
            match e.topology {
                Topology::Any => text,
                Topology::Citus => format!("{text} (citus)"),
                Topology::SingleNode => format!("{text} (single node)"),
            }
        })
        .chain(
            q.generic_exempt
                .iter()
                .map(|r| format!("generic plan exempt: {r}")),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn lists_expectations_with_their_plan_mode() {
        let q = crate::catalog::parse(
            Path::new("by_mrn.sql"),
            "-- name: by_mrn\n\
             -- summary: The patient with this MRN.\n\
             -- params: mrn <- SELECT 'A-1'\n\
             -- expect: rows = 1\n\
             -- expect-custom: no seq-scan\n\
             SELECT 1 WHERE $1::text IS NOT NULL;\n",
        )
        .unwrap();
        let md = queries(Format::Markdown, std::slice::from_ref(&q));
        assert!(
            md.contains(
                "| by_mrn | The patient with this MRN. | mrn | rows = 1<br>no seq-scan (custom) |"
            ),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(&queries(Format::Json, &[q])).unwrap();
        assert_eq!(json[0]["name"], "by_mrn");
    }
}
