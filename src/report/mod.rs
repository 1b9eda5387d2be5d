//! Rendering results for people and machines: terminal tables (comfy-table), Markdown and JSON.
//!
//! Pure: no database, no I/O beyond returning strings. Commands build plain data (serde types) and
//! hand them here, so every output format is produced from the same values.

pub mod check;
pub mod compare;
pub mod fmt;
pub mod list;
pub mod seed;
pub mod tree;

use comfy_table::{ContentArrangement, Table, presets};

/// Output formats every command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Human-readable tables for a terminal.
    #[default]
    Table,
    /// One JSON document on stdout, nothing else.
    Json,
    /// GitHub-flavoured Markdown, for PR comments and CI summaries.
    Markdown,
}

/// A table with a header row, rendered per format.
pub fn table(format: Format, header: &[&str], rows: &[Vec<String>]) -> String {
    match format {
        Format::Markdown => markdown_table(header, rows),
        _ => {
            let mut t = Table::new();
            t.load_style(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(header.iter().copied());
            for row in rows {
                t.add_row(row.iter().map(String::as_str));
            }
            t.to_string()
        }
    }
}

/// Key/value pairs as a two-column table.
pub fn key_values(format: Format, pairs: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    match format {
        Format::Markdown => markdown_table(&["", ""], &rows),
        _ => {
            let mut t = Table::new();
            t.load_style(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic);
            for row in rows {
                t.add_row(row);
            }
            t.to_string()
        }
    }
}

fn markdown_escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', "<br>")
}

pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        header
            .iter()
            .map(|h| markdown_escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!(
        "|{}\n",
        header.iter().map(|_| "---|").collect::<String>()
    ));
    for row in rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter()
                .map(|c| markdown_escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_escape_pipes() {
        let out = markdown_table(&["a", "b"], &[vec!["x|y".into(), "z".into()]]);
        assert_eq!(out, "| a | b |\n|---|---|\n| x\\|y | z |\n");
    }
}
