//! Rendering of `qcheck list`: each query, what it answers, its parameters and its expectations
//! (with the plan mode an expectation is limited to, and a generic-plan exemption), as a table or
//! JSON.
//!
//! Pure: the command reads the catalog and prints the string returned here.

use super::{Format, table, text};
use crate::catalog::{AppliesTo, Query, Topology};

/// The query list in `format`, at its natural width: JSON is the catalog's queries as they
/// serialize, in a versioned document (`{"schema_version": 1, "queries": [...]}`).
pub fn queries(format: Format, queries: &[Query]) -> String {
    queries_in(format, queries, usize::MAX)
}

/// The query list for a terminal `width` columns wide: the table when it fits, else one block per
/// query — its name and what it answers, then its parameters and expectations, wrapped with a
/// hanging indent.
pub fn queries_in(format: Format, queries: &[Query], width: usize) -> String {
    #[derive(serde::Serialize)]
    struct Document<'a> {
        queries: &'a [Query],
    }
    if format == Format::Json {
        return super::json::document(Document { queries });
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
    let header = ["query", "answers", "params", "expectations"];
    if format == Format::Markdown {
        return table(format, &header, &rows) + "\n";
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header);
    for row in &rows {
        t.add_row(row);
    }
    let full = t.to_string() + "\n";
    if text::max_line_width(&full) <= width {
        return full;
    }
    let mut out = String::new();
    for (i, q) in queries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&text::wrapped(
            &format!("{} — {}", q.name, q.summary),
            width,
            "",
            "    ",
        ));
        if !q.params.is_empty() {
            out.push_str(&text::wrapped(
                &format!("params: {}", q.params.join(", ")),
                width,
                "  ",
                "      ",
            ));
        }
        for (j, e) in expectations(q).iter().enumerate() {
            let first = if j == 0 { "  expect: " } else { "          " };
            out.push_str(&text::wrapped(e, width, first, "            "));
        }
    }
    out
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
        let json: serde_json::Value =
            serde_json::from_str(&queries(Format::Json, std::slice::from_ref(&q))).unwrap();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["queries"][0]["name"], "by_mrn");
        let compact = queries_in(Format::Table, &[q], 40);
        assert_eq!(
            compact,
            "by_mrn — The patient with this MRN.\n  params: mrn\n  expect: rows = 1\n          no seq-scan (custom)\n"
        );
    }
}
