//! Plain-text layout for a terminal of a given width: visible width (ANSI colour codes take no
//! room), word wrapping with a hanging indent, and aligned columns without borders.
//!
//! Why it exists: identifiers (query, index and partition names) must never be broken mid-word, and
//! a table drawn with borders needs more room than a 100-column terminal has. The compact layouts of
//! `check`, `explain` and `list` are built from these three pieces. Pure: the caller says how wide the
//! terminal is (`cli` reads `COLUMNS` and the terminal size).

/// Width a terminal is assumed to have when neither `COLUMNS` nor the terminal says (a pipe, a CI
/// log): wide enough for every built-in identifier on a line of its own.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width qcheck lays text out for; a smaller `COLUMNS` is taken as this.
pub const MIN_WIDTH: usize = 40;

/// Columns `s` takes on a terminal: characters, not counting ANSI escape sequences (`ESC [ … m`).
/// Every character qcheck prints is one column wide (box drawing, `µ`, `×`, `—`).
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // Skip to the end of the escape sequence (a letter ends a CSI sequence).
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            width += 1;
        }
    }
    width
}

/// The widest line of `s`.
pub fn max_line_width(s: &str) -> usize {
    s.lines().map(visible_width).max().unwrap_or(0)
}

/// Wraps `text` (one line) to `width` columns at spaces: the first line starts with `first`, the
/// others with `rest` (a hanging indent). Spaces between words are kept as they are inside a line
/// and dropped at a break; a bracketed group (`[1/4 partitions]`) is not broken. A word longer than
/// a line is kept whole on a line of its own, never split. Returns the lines without trailing
/// newlines.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    wrap_units(&words(text), width, first, rest)
}

/// `text` as (separator before, word) pairs, a bracketed group counting as one word.
fn words(text: &str) -> Vec<(String, &str)> {
    let mut units: Vec<(String, &str)> = Vec::new();
    let mut gap = 0;
    let mut open: Option<(usize, usize)> = None; // (start byte, gap before) of a `[` group
    let mut pos = 0;
    for word in text.split(' ') {
        let start = pos;
        pos += word.len() + 1;
        if word.is_empty() {
            if open.is_none() {
                gap += 1;
            }
            continue;
        }
        if let Some((from, before)) = open {
            if word.contains(']') {
                open = None;
                units.push((" ".repeat(before), &text[from..start + word.len()]));
            }
            continue;
        }
        let spaces = if units.is_empty() { 0 } else { gap + 1 };
        gap = 0;
        if word.starts_with('[') && !word.contains(']') {
            open = Some((start, spaces));
            continue;
        }
        units.push((" ".repeat(spaces), word));
    }
    if let Some((from, before)) = open {
        units.push((" ".repeat(before), &text[from..]));
    }
    units
}

/// Lays out `units` (separator before, text) greedily: a unit goes on the current line when it fits
/// with its separator, else it starts a new line (without the separator). A unit too long for a line
/// of its own is wrapped at its spaces.
fn wrap_units(units: &[(String, &str)], width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for (sep, unit) in units {
        if !empty && visible_width(&line) + visible_width(sep) + visible_width(unit) <= width {
            line.push_str(sep);
            line.push_str(unit);
            continue;
        }
        let indent = if empty {
            line.clone()
        } else {
            rest.to_string()
        };
        if visible_width(&indent) + visible_width(unit) > width && unit.contains(' ') {
            let mut inner = words(unit);
            if inner.len() < 2 {
                // A bracketed group too long for a line: break it at its spaces after all.
                inner = unit
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .enumerate()
                    .map(|(i, w)| (if i == 0 { "" } else { " " }.to_string(), w))
                    .collect();
            }
            let mut parts = wrap_units(&inner, width, &indent, rest);
            if !empty {
                lines.push(std::mem::take(&mut line));
            }
            line = parts.pop().unwrap_or_default();
            lines.extend(parts);
        } else {
            if !empty {
                lines.push(std::mem::replace(&mut line, indent));
            }
            line.push_str(unit);
        }
        empty = false;
    }
    if !empty || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Wraps a plan tree line (`->  Node (#1)  rows 5 (est 4), loops 1, 20 µs  [tip: x]`) at the
/// boundaries between its parts — the double spaces between description, statistics and marks, and
/// the commas between statistics — so that `37 µs` or `read 0` never break; continuation lines take
/// the line's indentation plus `rest`. Ends in a newline.
pub fn fit_tree_line(line: &str, width: usize, rest: &str) -> String {
    if visible_width(line) <= width {
        return format!("{line}\n");
    }
    let body = line.trim_start_matches(' ');
    let lead = &line[..line.len() - body.len()];
    let mut units: Vec<(String, &str)> = Vec::new();
    for (i, part) in body.split("  ").enumerate() {
        let mut sep = if i == 0 {
            String::new()
        } else {
            "  ".to_string()
        };
        let pieces: Vec<&str> = part.split(", ").collect();
        let last = pieces.len() - 1;
        let mut from = 0;
        for (j, piece) in pieces.iter().enumerate() {
            // Keep the comma with the piece before it.
            let end = from + piece.len() + usize::from(j < last);
            units.push((
                std::mem::replace(&mut sep, " ".to_string()),
                &part[from..end],
            ));
            from = end + 1;
        }
    }
    wrap_units(&units, width, lead, &format!("{lead}{rest}"))
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

/// [`wrap`] joined into lines, each ending in a newline.
pub fn wrapped(text: &str, width: usize, first: &str, rest: &str) -> String {
    wrap(text, width, first, rest)
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

/// Alignment of a column in [`columns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text, flush left.
    Left,
    /// Numbers, flush right.
    Right,
}

/// Rows of cells in aligned columns, two spaces apart, no borders: a header line, a rule of `─`
/// under each header, then the rows. `details[i]` are extra lines printed under row `i`, indented
/// by two spaces and wrapped to `width` (with a further indent for their continuation lines).
/// Cells never wrap: a row wider than `width` is wrapped as text, with the same hanging indent.
pub fn columns(
    header: &[&str],
    align: &[Align],
    rows: &[Vec<String>],
    details: &[Vec<String>],
    width: usize,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| visible_width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(visible_width(cell));
        }
    }
    let line = |cells: &[String]| -> String {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(visible_width(cell));
            let right = align.get(i) == Some(&Align::Right);
            if right {
                out.push_str(&" ".repeat(pad));
            }
            out.push_str(cell);
            if i < last {
                if !right {
                    out.push_str(&" ".repeat(pad));
                }
                out.push_str("  ");
            }
        }
        out.trim_end().to_string()
    };
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    for l in [line(&head), line(&rule)] {
        out.push_str(&fit(&l, width, "    "));
    }
    for (i, row) in rows.iter().enumerate() {
        out.push_str(&fit(&line(row), width, "    "));
        for d in details.get(i).into_iter().flatten() {
            out.push_str(&wrapped(d, width, "  ", "      "));
        }
    }
    out
}

/// `line` as it is when it fits `width`, else wrapped with `rest` as the hanging indent; ends in a
/// newline. Leading spaces (a tree's indentation) are kept.
pub fn fit(line: &str, width: usize, rest: &str) -> String {
    if visible_width(line) <= width {
        return format!("{line}\n");
    }
    let body = line.trim_start_matches(' ');
    let lead = &line[..line.len() - body.len()];
    wrapped(body, width, lead, &format!("{lead}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_ignore_colour_codes() {
        assert_eq!(visible_width("\x1b[1;31m[FAIL x]\x1b[0m"), 8);
        assert_eq!(visible_width("2.43 µs × 3 — ok"), 16);
        assert_eq!(max_line_width("ab\nabcd\n"), 4);
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(
            wrap("aa bb cc dd", 8, "", "  "),
            vec!["aa bb cc", "  dd"],
            "continuation lines take the hanging indent"
        );
        assert_eq!(
            wrap("x appointment_provider_day_idx y", 10, "> ", "  "),
            vec!["> x", "  appointment_provider_day_idx", "  y"]
        );
        assert_eq!(wrap("", 10, "- ", ""), vec!["- "]);
        for line in wrap(&"word ".repeat(50), 30, "  ", "    ") {
            assert!(visible_width(&line) <= 30, "{line}");
        }
    }

    #[test]
    fn columns_align_and_wrap_details() {
        let out = columns(
            &["query", "ms"],
            &[Align::Left, Align::Right],
            &[
                vec!["a".into(), "1.5".into()],
                vec!["longer".into(), "12".into()],
            ],
            &[vec!["plan: one two three four five".into()], vec![]],
            20,
        );
        assert_eq!(
            out,
            "query    ms\n──────  ───\na       1.5\n  plan: one two\n      three four\n      five\nlonger   12\n"
        );
    }

    #[test]
    fn bracketed_groups_stay_together() {
        assert_eq!(
            wrap("idx) [1/4 partitions] (see it)", 20, "", "  "),
            vec!["idx)", "  [1/4 partitions]", "  (see it)"]
        );
        // Too long for any line: broken at its spaces after all.
        assert_eq!(
            wrap("[1/4 partitions]", 8, "", ""),
            vec!["[1/4", "partitions]"]
        );
    }

    #[test]
    fn tree_lines_break_between_their_parts() {
        let line = "  ->  Bitmap Index Scan on trgm_idx (#3)  rows 121 (est 132), loops 1, 37 µs  [tip: x]";
        assert_eq!(
            fit_tree_line(line, 62, "    "),
            "  ->  Bitmap Index Scan on trgm_idx (#3)  rows 121 (est 132),\n      loops 1, 37 µs  [tip: x]\n"
        );
        // A description longer than a line wraps at its spaces.
        assert_eq!(
            fit_tree_line(
                "Index Scan using a_long_index on t (#0)  rows 1",
                24,
                "    "
            ),
            "Index Scan using\n    a_long_index on t\n    (#0)  rows 1\n"
        );
    }

    #[test]
    fn fit_keeps_the_indentation_of_tree_lines() {
        let out = fit("    ->  Seq Scan on big (#1)  rows 5", 20, "  ");
        assert_eq!(out, "    ->  Seq Scan on\n      big (#1)  rows\n      5\n");
    }
}
