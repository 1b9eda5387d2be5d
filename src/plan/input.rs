//! What users paste: finds the EXPLAIN (FORMAT JSON) documents in the text a plan really reaches
//! a user in, before [`super::parse_plans`] reads them.
//!
//! Pure: text in, JSON documents out (no file access; the CLI reads the file with the
//! [`MAX_PLAN_FILE_BYTES`] bound and hands the text over). Each form, as recognised:
//!
//! - **JSON**, as `psql -XAtq` or a client library returns it: `[ { "Plan": ... } ]`, the bare
//!   object, or an array of several statements' plans (a rule's `DO ALSO` plans every action). A
//!   UTF-8 byte-order mark at the start is skipped in every form.
//! - **psql aligned output** (the default): a header line (`QUERY PLAN`, or the column's name such
//!   as `jsonb_pretty`), a rule (`---`, `───`, `═══`, `+---+` or `┌───┐` with borders), each line
//!   of the value padded and ended by a continuation mark (` +` in ASCII, `↵` in Unicode
//!   linestyle), frames `|`/`│` with `\pset border 2`, and a `(1 row)` footer. With several
//!   columns (pg_show_plans' `level | plan`) the last column is read; each row is one document.
//!   Tuples-only (`-t`) output, with no header and footer, is recognised by its continuation marks.
//! - **psql expanded output** (`\x`): `-[ RECORD 1 ]---` blocks whose `QUERY PLAN | ...` lines hold
//!   the value; `-Ax` prints `QUERY PLAN|[` and the raw lines.
//! - **psql unaligned output** (`-A` without `-t`): a `QUERY PLAN` header line, the raw JSON and a
//!   `(1 row)` footer.
//! - **CSV-quoted field** (a cell copied from a CSV export): the whole document in double quotes
//!   with every inner quote doubled.
//! - **auto_explain, stderr log**: a line ending in `duration: 12.345 ms  plan:` (after any
//!   `log_line_prefix` and `LOG:  `), followed by the document on tab-indented continuation lines
//!   (or, when the message was copied alone, on plain lines up to the next log message). Every
//!   record of a whole log is one statement.
//! - **auto_explain, csvlog**: the same message as the 14th field of a CSV record, quoted, with
//!   doubled quotes and real newlines inside.
//! - **auto_explain, jsonlog**: one JSON object per line whose `message` string holds the same
//!   message.
//!
//! auto_explain's documents are a bare object with a `"Query Text"` key next to `"Plan"`; the
//! plan model keeps it (in [`super::Plan::extra`]).
//!
//! Refused with a one-line reason: text-, YAML- and XML-format EXPLAIN (qcheck reads FORMAT
//! JSON), auto_explain records logged with `log_format = text`, plans whose numbers were masked
//! (`N`, PostgreSQL's regression-test filter), pg_show_plans' `[ "Plan": ... ]` (a key inside an
//! array), and psql output whose plan column holds no JSON.

use serde_json::Value;

use super::PlanParseError;

/// Largest plan file `qcheck explain --plan` reads (256 MiB): far above any real plan (a
/// 10,000-node VERBOSE plan is a few MiB), low enough that a wrong path (a log directory's
/// concatenation, a device) fails at once instead of exhausting memory.
pub const MAX_PLAN_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The form in which a plan was pasted (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// EXPLAIN (FORMAT JSON) as is.
    Json,
    /// psql aligned output (`QUERY PLAN` header, rule, continuation marks, footer), also
    /// tuples-only.
    PsqlAligned,
    /// psql unaligned output (`-A`) with its header and footer.
    PsqlUnaligned,
    /// psql expanded output (`\x`).
    PsqlExpanded,
    /// One CSV-quoted field (doubled quotes).
    CsvField,
    /// auto_explain records in a stderr log.
    AutoExplainStderr,
    /// auto_explain records in a csvlog.
    AutoExplainCsvlog,
    /// auto_explain records in a jsonlog.
    AutoExplainJsonlog,
}

impl Form {
    /// Short human name, used in messages ("psql aligned output").
    pub fn describe(self) -> &'static str {
        match self {
            Form::Json => "JSON",
            Form::PsqlAligned => "psql output",
            Form::PsqlUnaligned => "psql unaligned output",
            Form::PsqlExpanded => "psql expanded output",
            Form::CsvField => "CSV-quoted field",
            Form::AutoExplainStderr => "auto_explain log",
            Form::AutoExplainCsvlog => "auto_explain csvlog",
            Form::AutoExplainJsonlog => "auto_explain jsonlog",
        }
    }
}

/// The JSON documents found in a text, with the form they were found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The recognised form.
    pub form: Form,
    /// One JSON text per statement or log record, in order (never empty).
    pub documents: Vec<String>,
}

fn refuse(form: Form, problem: impl Into<String>) -> PlanParseError {
    PlanParseError::Input {
        form: form.describe().into(),
        problem: problem.into(),
    }
}

const USE_JSON: &str = "capture with EXPLAIN (FORMAT JSON)";

/// Finds the JSON documents in `text` (see the module documentation for the forms).
pub fn extract(text: &str) -> Result<Extracted, PlanParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(PlanParseError::Input {
            form: "input".into(),
            problem: "the plan file is empty".into(),
        });
    }
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let first = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .unwrap_or_default();

    if first.starts_with('{') && is_jsonlog_record(first) {
        return jsonlog(&lines);
    }
    if let Some(i) = lines.iter().position(|l| is_auto_explain_marker(l)) {
        let before = &lines[i][..lines[i].find("duration: ").unwrap_or(0)];
        return if before.trim_end().ends_with('"') {
            csvlog(text)
        } else {
            stderr_log(&lines)
        };
    }
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if ends_with_continuation(first) {
            return psql_aligned(&lines, None);
        }
        return Ok(Extracted {
            form: Form::Json,
            documents: vec![trimmed.to_owned()],
        });
    }
    if trimmed.starts_with('"') {
        return csv_field(trimmed);
    }
    if let Some(reason) = other_format(trimmed) {
        return Err(PlanParseError::Input {
            form: reason.into(),
            problem: format!("qcheck reads JSON plans; {USE_JSON}"),
        });
    }
    if first.starts_with("-[ RECORD") || first.starts_with("QUERY PLAN|") {
        return psql_expanded(&lines);
    }
    psql(&lines)
}

/// Names a non-JSON EXPLAIN format the text is in, if it looks like one.
fn other_format(text: &str) -> Option<&'static str> {
    let head: String = text.lines().take(20).collect::<Vec<_>>().join("\n");
    if head.starts_with("<explain") || head.starts_with("<?xml") {
        Some("XML-format EXPLAIN")
    } else if head.starts_with("- Plan:") {
        Some("YAML-format EXPLAIN")
    } else if looks_like_text_plan(&head) {
        Some("text-format EXPLAIN")
    } else {
        None
    }
}

/// A text-format EXPLAIN line: `Seq Scan on t  (cost=...)`, `->  Hash  (actual ...)`.
fn looks_like_text_plan(text: &str) -> bool {
    text.contains("(cost=")
        || text.contains("(actual time=")
        || text.contains("(actual rows=")
        || text.lines().any(|l| l.trim_start().starts_with("->  "))
}

/// `... duration: 12.345 ms  plan:` (stderr, csvlog) — the auto_explain message's first line.
fn is_auto_explain_marker(line: &str) -> bool {
    let line = line.trim_end();
    line.ends_with("plan:")
        && line
            .find("duration: ")
            .is_some_and(|i| line[i..].contains(" ms  plan:"))
}

/// The message of an auto_explain record: `duration: ... ms  plan:\n<document>` → the document.
fn message_document(message: &str) -> Option<&str> {
    let message = message.trim_start();
    if !message.starts_with("duration: ") {
        return None;
    }
    let (first, rest) = message.split_once('\n')?;
    first.trim_end().ends_with("plan:").then_some(rest)
}

/// Checks an auto_explain record's document: JSON, not the text format.
fn auto_explain_document(form: Form, n: usize, doc: &str) -> Result<String, PlanParseError> {
    let doc = doc.trim();
    if doc.starts_with('{') || doc.starts_with('[') {
        return Ok(doc.to_owned());
    }
    let problem = if doc.is_empty() {
        format!("record {n} has no plan after `plan:`")
    } else {
        format!(
            "record {n} holds a text-format plan; set auto_explain.log_format = json (qcheck reads JSON plans)"
        )
    };
    Err(refuse(form, problem))
}

fn stderr_log(lines: &[&str]) -> Result<Extracted, PlanParseError> {
    let form = Form::AutoExplainStderr;
    let mut documents = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !is_auto_explain_marker(lines[i]) {
            i += 1;
            continue;
        }
        i += 1;
        let mut body = Vec::new();
        if lines.get(i).is_some_and(|l| l.starts_with('\t')) {
            // stderr indents every continuation line of a message with one tab.
            while let Some(l) = lines.get(i).and_then(|l| l.strip_prefix('\t')) {
                body.push(l);
                i += 1;
            }
        } else {
            // A message copied alone: up to the next log message.
            while let Some(l) = lines.get(i) {
                if is_auto_explain_marker(l) || l.contains("LOG:  ") || l.starts_with("duration: ")
                {
                    break;
                }
                body.push(l);
                i += 1;
            }
        }
        let doc = auto_explain_document(form, documents.len() + 1, &body.join("\n"))?;
        documents.push(doc);
    }
    Ok(Extracted { form, documents })
}

fn csvlog(text: &str) -> Result<Extracted, PlanParseError> {
    let form = Form::AutoExplainCsvlog;
    let mut documents = Vec::new();
    for record in csv_records(text) {
        if let Some(doc) = record.iter().find_map(|f| message_document(f)) {
            documents.push(auto_explain_document(form, documents.len() + 1, doc)?);
        }
    }
    if documents.is_empty() {
        return Err(refuse(
            form,
            "no record's message holds a plan (`duration: ... ms  plan:` and the plan)",
        ));
    }
    Ok(Extracted { form, documents })
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields may hold `""` and newlines).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\r' => {}
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

fn is_jsonlog_record(line: &str) -> bool {
    matches!(
        serde_json::from_str::<Value>(line),
        Ok(Value::Object(m)) if m.contains_key("message") && !m.contains_key("Plan")
    )
}

fn jsonlog(lines: &[&str]) -> Result<Extracted, PlanParseError> {
    let form = Form::AutoExplainJsonlog;
    let mut documents = Vec::new();
    for line in lines {
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        if let Some(doc) = record
            .get("message")
            .and_then(Value::as_str)
            .and_then(message_document)
        {
            documents.push(auto_explain_document(form, documents.len() + 1, doc)?);
        }
    }
    if documents.is_empty() {
        return Err(refuse(
            form,
            "no record's \"message\" holds a plan (`duration: ... ms  plan:` and the plan)",
        ));
    }
    Ok(Extracted { form, documents })
}

fn csv_field(text: &str) -> Result<Extracted, PlanParseError> {
    let form = Form::CsvField;
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            refuse(
                form,
                "the text starts with `\"` but is not one quoted field",
            )
        })?;
    let doc = inner.replace("\"\"", "\"");
    let doc = doc.trim();
    if !(doc.starts_with('[') || doc.starts_with('{')) {
        return Err(refuse(form, format!("the field holds no JSON; {USE_JSON}")));
    }
    Ok(Extracted {
        form,
        documents: vec![doc.to_owned()],
    })
}

/// Frame characters of psql's ASCII and Unicode linestyles (rules, corners, borders).
fn is_frame_char(c: char) -> bool {
    matches!(
        c,
        '-' | '+'
            | '='
            | '|'
            | ' '
            | '─'
            | '═'
            | '│'
            | '║'
            | '┌'
            | '┐'
            | '└'
            | '┘'
            | '├'
            | '┤'
            | '┼'
            | '┬'
            | '┴'
            | '╞'
            | '╡'
            | '╪'
            | '╤'
            | '╧'
            | '╔'
            | '╗'
            | '╚'
            | '╝'
            | '╠'
            | '╣'
            | '╬'
            | '╦'
            | '╩'
            | '╟'
            | '╢'
            | '╫'
    )
}

/// A horizontal rule: only frame characters, with at least one dash.
fn is_rule(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && line.chars().all(is_frame_char)
        && line.chars().any(|c| matches!(c, '-' | '─' | '═'))
}

/// psql's `(1 row)` / `(2 rows)` footer.
fn is_footer(line: &str) -> bool {
    let line = line.trim();
    line.strip_prefix('(')
        .and_then(|l| l.strip_suffix(" row)").or_else(|| l.strip_suffix(" rows)")))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_vertical(c: char) -> bool {
    matches!(c, '|' | '│' | '║')
}

/// Strips the frame and padding around one aligned cell line; returns the content and whether
/// it ended with a continuation mark.
fn cell_line(line: &str, border2: bool) -> (String, bool) {
    let mut s = line.trim_end();
    if border2 {
        s = s.strip_suffix(is_vertical).unwrap_or(s).trim_end();
    }
    let (s, continued) = match s.strip_suffix('+').or_else(|| s.strip_suffix('↵')) {
        Some(rest) => (rest.trim_end(), true),
        None => (s, false),
    };
    (s.to_owned(), continued)
}

fn ends_with_continuation(line: &str) -> bool {
    let l = line.trim_end();
    l.ends_with(" +") || l.ends_with('↵') || l.ends_with("+|") || l.ends_with("↵│")
}

/// psql output with a header: aligned (a rule under the header) or unaligned.
fn psql(lines: &[&str]) -> Result<Extracted, PlanParseError> {
    let mut i = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    if lines.get(i).is_some_and(|l| is_rule(l)) {
        i += 1; // the top frame of `\pset border 2`
    }
    let header = lines.get(i).copied().unwrap_or_default();
    if lines.get(i + 1).is_some_and(|l| is_rule(l)) {
        return psql_aligned(lines.get(i + 2..).unwrap_or_default(), Some(header));
    }
    // Unaligned: a header line, the raw value, a footer.
    let body: Vec<&str> = lines
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .copied()
        .take_while(|l| !is_footer(l))
        .collect();
    let doc = body.join("\n");
    let doc = doc.trim();
    if doc.starts_with('[') || doc.starts_with('{') {
        return Ok(Extracted {
            form: Form::PsqlUnaligned,
            documents: vec![doc.to_owned()],
        });
    }
    if header.trim() == "QUERY PLAN" {
        return Err(refuse(
            Form::PsqlUnaligned,
            format!("the QUERY PLAN column holds no JSON; {USE_JSON}"),
        ));
    }
    Err(PlanParseError::Input {
        form: "input".into(),
        problem: format!(
            "not EXPLAIN (FORMAT JSON) output, psql output of it, or an auto_explain log \
             (first line: `{}`); {USE_JSON}",
            first_chars(header.trim(), 60)
        ),
    })
}

fn first_chars(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The body of aligned output (after the header's rule; or all lines for tuples-only output).
fn psql_aligned(body: &[&str], header: Option<&str>) -> Result<Extracted, PlanParseError> {
    let form = Form::PsqlAligned;
    let header_trim = header.map(str::trim_end).unwrap_or_default();
    let border2 = header_trim.starts_with(is_vertical)
        || body
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with(is_vertical));
    // With several columns the plan is the last one: cut every line after the header's last
    // inner separator (psql aligns columns, so the separator is at the same position).
    let inner = header_trim
        .char_indices()
        .rev()
        .find(|&(i, c)| is_vertical(c) && i > 0 && i + c.len_utf8() < header_trim.len());
    let cut = inner.map(|(i, _)| header_trim[..i].chars().count() + 1);
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    let mut any_mark = false;
    for line in body {
        if is_footer(line) || (is_rule(line) && !line.trim().is_empty()) {
            break;
        }
        let line = match cut {
            Some(n) => line.chars().skip(n).collect::<String>(),
            None if border2 => line
                .trim_start()
                .strip_prefix(is_vertical)
                .unwrap_or(line)
                .to_owned(),
            None => (*line).to_owned(),
        };
        let (content, continued) = cell_line(&line, border2);
        any_mark |= continued;
        row.push_str(content.strip_prefix(' ').unwrap_or(&content));
        row.push('\n');
        if !continued {
            rows.push(std::mem::take(&mut row));
        }
    }
    if !row.is_empty() {
        rows.push(row);
    }
    if !any_mark {
        // No continuation marks at all: one value printed without them; keep it whole.
        rows = vec![rows.concat()];
    }
    let documents: Vec<String> = rows
        .iter()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    let column = header
        .map(|h| {
            let name = match cut {
                Some(n) => h.chars().skip(n).collect::<String>(),
                None => h.to_owned(),
            };
            name.trim_matches(|c: char| c.is_whitespace() || is_vertical(c))
                .to_owned()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "plan".into());
    if documents.is_empty() {
        return Err(refuse(
            form,
            format!("the {column} column holds no JSON; {USE_JSON}"),
        ));
    }
    for doc in &documents {
        if !(doc.starts_with('[') || doc.starts_with('{')) {
            let what = if looks_like_text_plan(doc) || doc.contains(" on ") {
                "a text-format plan"
            } else {
                "no JSON"
            };
            return Err(refuse(
                form,
                format!("the {column} column holds {what}; {USE_JSON}"),
            ));
        }
    }
    Ok(Extracted { form, documents })
}

/// `\x` output: `-[ RECORD n ]---` blocks of `QUERY PLAN | value` lines (`-Ax`: `QUERY PLAN|value`).
fn psql_expanded(lines: &[&str]) -> Result<Extracted, PlanParseError> {
    let form = Form::PsqlExpanded;
    let mut documents = Vec::new();
    let mut row: Option<String> = None;
    let mut cut = 0usize;
    let mut unaligned = false;
    for line in lines {
        if line.starts_with("-[ RECORD") {
            documents.extend(row.take());
            continue;
        }
        if let Some(rest) = line.strip_prefix("QUERY PLAN|") {
            // `-Ax`: the value follows unframed up to the next record or the end.
            documents.extend(row.take());
            row = Some(format!("{rest}\n"));
            unaligned = true;
            continue;
        }
        if unaligned {
            if let Some(r) = row.as_mut() {
                r.push_str(line);
                r.push('\n');
            }
            continue;
        }
        if line.starts_with("QUERY PLAN ") {
            let sep = line.chars().position(is_vertical);
            if let Some(sep) = sep {
                documents.extend(row.take());
                cut = sep + 1;
                row = Some(String::new());
            }
        }
        if let Some(r) = row.as_mut() {
            let value: String = line.chars().skip(cut).collect();
            let (content, _) = cell_line(&value, false);
            r.push_str(content.strip_prefix(' ').unwrap_or(&content));
            r.push('\n');
        }
    }
    documents.extend(row);
    let documents: Vec<String> = documents
        .iter()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    if documents.is_empty() || documents.iter().any(|d| !d.starts_with(['[', '{'])) {
        return Err(refuse(
            form,
            format!("the QUERY PLAN field holds no JSON; {USE_JSON}"),
        ));
    }
    Ok(Extracted { form, documents })
}

/// Explains a JSON syntax error in an extracted document when its cause is a known non-JSON
/// shape: numbers masked as `N` (PostgreSQL's regression filter), pg_show_plans' `[ "Plan":`, or
/// a Citus task plan in text form.
pub(crate) fn diagnose(doc: &str) -> Option<&'static str> {
    let compact: String = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    if compact.starts_with("[ \"Plan\":") || compact.starts_with("[\"Plan\":") {
        return Some(
            "a key inside an array (`[ \"Plan\": ... ]`, as pg_show_plans prints) is not valid JSON; capture with EXPLAIN (FORMAT JSON)",
        );
    }
    // Citus 13 reads the EXPLAIN options for its workers in a hook that `EXPLAIN … EXECUTE`
    // skips, so a task's plan comes back in the session's last plain EXPLAIN format (TEXT in a
    // fresh session), pasted unquoted into the JSON.
    let text_task = compact
        .match_indices("\"Remote Plan\": [")
        .any(|(at, key)| {
            compact[at + key.len()..]
                .trim_start()
                .chars()
                .next()
                .is_some_and(|c| !matches!(c, '{' | '[' | ']' | '"'))
        });
    if text_task {
        return Some(
            "a Citus task's \"Remote Plan\" is plan text inside the JSON (Citus sends its workers the options of the session's last plain EXPLAIN when the plan comes from EXPLAIN ... EXECUTE); capture again after one plain `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1` in that session",
        );
    }
    if [": N,", ": N.N,", ": N }", ": N.N }", ": N ]", ": N.N ]"]
        .iter()
        .any(|p| compact.contains(p))
    {
        return Some(
            "the numbers are masked (`N`, as in PostgreSQL's regression output); a masked plan cannot be analysed",
        );
    }
    None
}
