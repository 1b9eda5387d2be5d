//! Rendering results for people and machines: terminal tables (comfy-table), Markdown and JSON.
//!
//! Pure: no database, no I/O beyond returning strings, no command-line parsing (the `cli` maps its
//! `--format` onto [`Format`] through `FromStr`). Commands build plain data (serde types) and hand
//! them here, so every output format is produced from the same values. `fmt` is the one number
//! formatter; `seed`, `list`, `check` and `compare` render one command each, `diff` a baseline
//! comparison (`check --baseline`, `qcheck diff`), `versions` a `check` on several PostgreSQL
//! versions.

pub mod check;
pub mod compare;
pub mod diff;
pub mod fmt;
pub mod github;
pub mod json;
pub mod junit;
pub mod list;
pub mod seed;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod tree;
pub mod versions;

use comfy_table::{ContentArrangement, Table, presets};

/// Output formats every command accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable tables for a terminal.
    #[default]
    Table,
    /// One JSON document on stdout, nothing else.
    Json,
    /// GitHub-flavoured Markdown, for PR comments and CI summaries.
    Markdown,
    /// JUnit XML, for CI test reports (`check` and `explain` only).
    Junit,
    /// GitHub Actions workflow commands (annotations) and a job summary (`check` and `explain`
    /// only).
    Github,
}

impl Format {
    /// Every format, in the order help lists them.
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Markdown,
        Format::Junit,
        Format::Github,
    ];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::Github => "github",
        }
    }

    /// One line on what the format is for (shown in `--help`).
    pub fn description(self) -> &'static str {
        match self {
            Format::Table => "Human-readable tables for a terminal",
            Format::Json => "One JSON document on stdout, nothing else",
            Format::Markdown => "GitHub-flavoured Markdown, for PR comments and CI summaries",
            Format::Junit => "JUnit XML: a testcase per query and plan mode (check, explain)",
            Format::Github => {
                "GitHub Actions annotations, and a job summary in $GITHUB_STEP_SUMMARY (check, explain)"
            }
        }
    }

    /// Whether only `check` and `explain` print this format (it reports expectation verdicts).
    pub fn verdicts_only(self) -> bool {
        matches!(self, Format::Junit | Format::Github)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    /// A format by its name (case-insensitive); the error lists the names.
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown format `{s}`: use one of {}", names.join(", "))
            })
    }
}

/// How text for a terminal is laid out: how wide it may be and whether it is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Columns available (`usize::MAX`: no limit, for files and snapshots).
    pub width: usize,
    /// ANSI colour codes.
    pub color: bool,
}

impl Layout {
    /// No width limit, no colour.
    pub fn plain() -> Layout {
        Layout {
            width: usize::MAX,
            color: false,
        }
    }
}

/// A table with a header row, rendered per format.
pub fn table(format: Format, header: &[&str], rows: &[Vec<String>]) -> String {
    if format == Format::Markdown {
        markdown_table(header, rows)
    } else {
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

/// Key/value pairs as a two-column table.
pub fn key_values(format: Format, pairs: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    if format == Format::Markdown {
        markdown_table(&["", ""], &rows)
    } else {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        for row in rows {
            t.add_row(row);
        }
        t.to_string()
    }
}

/// HTML-escapes text (also valid in SVG, which is XML): every HTML and SVG writer uses this one.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn markdown_escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', "<br>")
}

/// A GitHub-flavoured Markdown table; `|` and newlines in cells are escaped.
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
    fn formats_parse_and_print_by_name() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
        assert_eq!(
            "yaml".parse::<Format>(),
            Err("unknown format `yaml`: use one of table, json, markdown, junit, github".into())
        );
    }

    #[test]
    fn html_escape_covers_markup_and_attributes() {
        assert_eq!(
            html_escape(r#"<a href="x">Tom & Jerry</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
    }

    #[test]
    fn markdown_tables_escape_pipes() {
        let out = markdown_table(&["a", "b"], &[vec!["x|y".into(), "z".into()]]);
        assert_eq!(out, "| a | b |\n|---|---|\n| x\\|y | z |\n");
    }
}
