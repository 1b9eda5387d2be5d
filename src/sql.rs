//! One lexer for PostgreSQL SQL, and the few things qcheck needs from it: statements, `$n`
//! placeholders, identifiers.
//!
//! Why it exists: qcheck reads SQL written by people (query files, index strategies) and must know
//! where a statement ends, which `$n` are parameters and what an index is called. A `;`, a `$1` or a
//! `--` inside a string literal, a quoted identifier, a comment or a dollar-quoted function body means
//! nothing, and ad-hoc scanners each got a different subset of that wrong. This module follows
//! PostgreSQL's own lexer (`scan.l`) for everything that decides token boundaries:
//!
//! - `--` line comments and `/* */` block comments, which nest;
//! - `'...'` strings with `''`, `E'...'` with backslash escapes, `U&'...'`, `B'...'`, `X'...'`, `N'...'`;
//! - dollar quotes `$$...$$` and `$tag$...$tag$`, where a tag is an identifier without `$` that does
//!   not start with a digit (so `$1` is a parameter, never a tag);
//! - `"quoted identifiers"` with `""`, and `U&"..."`;
//! - `$n` positional parameters, words (identifiers and keywords, which may contain `$`), numbers,
//!   `;` and other punctuation and operators.
//!
//! The lexer is total: its tokens cover the input exactly, byte for byte, whatever the input. A string,
//! comment or dollar quote that never ends becomes one [`TokenKind::Invalid`] token running to the end,
//! and [`tokenize`] turns it into a [`LexError`] naming the line where it starts. Pure: no I/O.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines, form feeds, vertical tabs.
    Whitespace,
    /// `-- ...` up to (not including) the end of the line.
    LineComment,
    /// `/* ... */`, nested ones included.
    BlockComment,
    /// A string constant: `'...'`, `E'...'`, `U&'...'`, `B'...'`, `X'...'`, `N'...'`.
    String,
    /// A dollar-quoted string constant `$tag$...$tag$` (tag possibly empty).
    DollarString,
    /// `"..."` or `U&"..."`.
    QuotedIdent,
    /// A positional parameter `$n`, with its number.
    Param(usize),
    /// `;`.
    Semicolon,
    /// An identifier or keyword (unquoted).
    Word,
    /// A numeric constant.
    Number,
    /// Anything else: `(`, `)`, `,`, `.`, `::`, operators such as `<>` or `||`.
    Punct,
    /// Input that does not lex; the token runs to the end of the input.
    Invalid(Problem),
}

/// Why input does not lex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A string, quoted identifier, comment or dollar quote that is never closed.
    Unterminated(Unterminated),
    /// A `$n` whose number does not fit in a `usize`.
    ParameterTooLarge,
}

/// What was left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unterminated {
    /// `'...` (any kind of string constant).
    String,
    /// `"...`.
    QuotedIdent,
    /// `/* ...`.
    BlockComment,
    /// `$tag$...`.
    DollarString,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unterminated(what) => {
                let what = match what {
                    Unterminated::String => "string literal",
                    Unterminated::QuotedIdent => "quoted identifier",
                    Unterminated::BlockComment => "block comment",
                    Unterminated::DollarString => "dollar-quoted string",
                };
                write!(f, "unterminated {what}")
            }
            Problem::ParameterTooLarge => write!(f, "parameter number too large"),
        }
    }
}

/// SQL that does not lex, and the line (1-based) where the bad token starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem} starting on line {line}")]
pub struct LexError {
    /// What is wrong.
    pub problem: Problem,
    /// 1-based line of the token's first byte.
    pub line: usize,
    /// Byte offset of the token's first byte.
    pub offset: usize,
}

/// One token: its kind, its source text, its byte span and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    /// What it is.
    pub kind: TokenKind,
    /// `&sql[span]`.
    pub text: &'a str,
    /// Byte range in the input.
    pub span: Range<usize>,
    /// 1-based line of its first byte.
    pub line: usize,
}

impl Token<'_> {
    /// Whitespace or a comment: what separates tokens without meaning anything.
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// Whether it is the unquoted word `keyword` (ASCII case-insensitive).
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    /// The identifier it names, as PostgreSQL resolves it: an unquoted word lower-cased (ASCII, as
    /// PostgreSQL does), a `"quoted"` one with `""` unescaped. `None` for other tokens, and for
    /// `U&"..."` (whose escapes are not decoded here).
    pub fn ident(&self) -> Option<String> {
        match self.kind {
            TokenKind::Word => Some(self.text.to_ascii_lowercase()),
            TokenKind::QuotedIdent if self.text.starts_with('"') => {
                let inner = &self.text[1..self.text.len() - 1];
                Some(inner.replace("\"\"", "\""))
            }
            _ => None,
        }
    }
}

/// Iterator over the tokens of a string; see the module documentation. Never fails, never panics.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    sql: &'a str,
    pos: usize,
    line: usize,
}

/// Lexes `sql`. The tokens cover it exactly; input that does not lex ends in one
/// [`TokenKind::Invalid`] token.
pub fn lex(sql: &str) -> Lexer<'_> {
    Lexer {
        sql,
        pos: 0,
        line: 1,
    }
}

/// All tokens of `sql`, or the first place where it does not lex.
pub fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, LexError> {
    lex(sql).map(checked).collect()
}

fn checked(token: Token<'_>) -> Result<Token<'_>, LexError> {
    match token.kind {
        TokenKind::Invalid(problem) => Err(LexError {
            problem,
            line: token.line,
            offset: token.span.start,
        }),
        _ => Ok(token),
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// PostgreSQL's operator characters.
fn is_op_char(b: u8) -> bool {
    b"~!@#^&|`?+-*/%<>=".contains(&b)
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let start = self.pos;
        if start >= self.sql.len() {
            return None;
        }
        let (kind, end) = self.token_at(start);
        // Every branch of `token_at` consumes at least one byte and stops on a char boundary: it stops
        // only before ASCII bytes or at the end.
        let end = end.max(start + 1).min(self.sql.len());
        let text = &self.sql[start..end];
        let token = Token {
            kind,
            text,
            span: start..end,
            line: self.line,
        };
        self.line += text.bytes().filter(|&b| b == b'\n').count();
        self.pos = end;
        Some(token)
    }
}

impl Lexer<'_> {
    /// The kind and end of the token starting at `i`.
    fn token_at(&self, i: usize) -> (TokenKind, usize) {
        let b = self.sql.as_bytes();
        let at = |k: usize| b.get(k).copied();
        let len = b.len();
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b => {
                let mut j = i + 1;
                while j < len && matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b) {
                    j += 1;
                }
                (TokenKind::Whitespace, j)
            }
            b'-' if at(i + 1) == Some(b'-') => {
                let j = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(len, |p| i + p);
                (TokenKind::LineComment, j)
            }
            b'/' if at(i + 1) == Some(b'*') => self.block_comment(i),
            b'\'' => self.quoted(i, b'\'', false, TokenKind::String),
            b'"' => self.quoted(i, b'"', false, TokenKind::QuotedIdent),
            b'$' => self.dollar(i),
            b';' => (TokenKind::Semicolon, i + 1),
            b'e' | b'E' if at(i + 1) == Some(b'\'') => {
                self.quoted(i + 1, b'\'', true, TokenKind::String)
            }
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if at(i + 1) == Some(b'\'') => {
                self.quoted(i + 1, b'\'', false, TokenKind::String)
            }
            b'u' | b'U' if at(i + 1) == Some(b'&') && at(i + 2) == Some(b'\'') => {
                self.quoted(i + 2, b'\'', false, TokenKind::String)
            }
            b'u' | b'U' if at(i + 1) == Some(b'&') && at(i + 2) == Some(b'"') => {
                self.quoted(i + 2, b'"', false, TokenKind::QuotedIdent)
            }
            c if is_ident_start(c) => {
                let mut j = i + 1;
                while j < len && is_ident_cont(b[j]) {
                    j += 1;
                }
                (TokenKind::Word, j)
            }
            c if c.is_ascii_digit()
                || (c == b'.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                (TokenKind::Number, self.number(i))
            }
            b':' if matches!(at(i + 1), Some(b':' | b'=')) => (TokenKind::Punct, i + 2),
            c if is_op_char(c) => {
                // An operator is a run of operator characters that stops before a comment start.
                let mut j = i + 1;
                while j < len
                    && is_op_char(b[j])
                    && !(b[j] == b'-' && at(j + 1) == Some(b'-'))
                    && !(b[j] == b'/' && at(j + 1) == Some(b'*'))
                {
                    j += 1;
                }
                (TokenKind::Punct, j)
            }
            // `(`, `)`, `,`, `.`, `[`, `]`, `:`, `\`, control characters, ...: one ASCII byte.
            _ => (TokenKind::Punct, i + 1),
        }
    }

    fn block_comment(&self, i: usize) -> (TokenKind, usize) {
        let b = self.sql.as_bytes();
        let (mut depth, mut j) = (0usize, i);
        while j + 1 < b.len() {
            match (b[j], b[j + 1]) {
                (b'/', b'*') => {
                    depth += 1;
                    j += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        return (TokenKind::BlockComment, j);
                    }
                }
                _ => j += 1,
            }
        }
        (
            TokenKind::Invalid(Problem::Unterminated(Unterminated::BlockComment)),
            b.len(),
        )
    }

    /// A token whose quoted part opens at `open` with `quote`; a doubled quote stands
    /// for itself, and with `backslash` a backslash escapes the next byte.
    fn quoted(
        &self,
        open: usize,
        quote: u8,
        backslash: bool,
        kind: TokenKind,
    ) -> (TokenKind, usize) {
        let b = self.sql.as_bytes();
        let mut j = open + 1;
        while j < b.len() {
            if backslash && b[j] == b'\\' {
                j += 2;
            } else if b[j] == quote {
                if b.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return (kind, j + 1);
                }
            } else {
                j += 1;
            }
        }
        let what = if quote == b'"' {
            Unterminated::QuotedIdent
        } else {
            Unterminated::String
        };
        (TokenKind::Invalid(Problem::Unterminated(what)), b.len())
    }

    /// `$n`, `$tag$...$tag$`, or a lone `$`.
    fn dollar(&self, i: usize) -> (TokenKind, usize) {
        let b = self.sql.as_bytes();
        let len = b.len();
        if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let mut j = i + 1;
            while j < len && b[j].is_ascii_digit() {
                j += 1;
            }
            return match self.sql[i + 1..j].parse() {
                Ok(n) => (TokenKind::Param(n), j),
                Err(_) => (TokenKind::Invalid(Problem::ParameterTooLarge), len),
            };
        }
        // A tag: `$` [ident_start ident_cont-without-$ ...] `$`.
        let mut j = i + 1;
        if j < len && is_ident_start(b[j]) {
            j += 1;
            while j < len && is_ident_cont(b[j]) && b[j] != b'$' {
                j += 1;
            }
        }
        if b.get(j) != Some(&b'$') {
            // Not a dollar quote: a lone `$` (a syntax error for PostgreSQL, punctuation here).
            return (TokenKind::Punct, i + 1);
        }
        let delim = &self.sql[i..=j];
        match self.sql[j + 1..].find(delim) {
            Some(p) => (TokenKind::DollarString, j + 1 + p + delim.len()),
            None => (
                TokenKind::Invalid(Problem::Unterminated(Unterminated::DollarString)),
                len,
            ),
        }
    }

    /// Digits (with `_` separators), an optional fraction and exponent; `0x`/`0o`/`0b` integers.
    fn number(&self, i: usize) -> usize {
        let b = self.sql.as_bytes();
        let len = b.len();
        let digits = |mut j: usize, ok: fn(u8) -> bool| {
            while j < len && (ok(b[j]) || b[j] == b'_') {
                j += 1;
            }
            j
        };
        if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')) {
            let ok: fn(u8) -> bool = match b[i + 1] {
                b'x' | b'X' => |c| c.is_ascii_hexdigit(),
                b'o' | b'O' => |c| (b'0'..=b'7').contains(&c),
                _ => |c| c == b'0' || c == b'1',
            };
            let j = digits(i + 2, ok);
            if j > i + 2 {
                return j;
            }
        }
        let mut j = digits(i, |c| c.is_ascii_digit());
        // `1..5` is not a fraction (PostgreSQL lexes the integer and leaves `..`).
        if b.get(j) == Some(&b'.') && b.get(j + 1) != Some(&b'.') {
            j = digits(j + 1, |c| c.is_ascii_digit());
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            if matches!(b.get(k), Some(b'+' | b'-')) {
                k += 1;
            }
            if b.get(k).is_some_and(u8::is_ascii_digit) {
                j = digits(k, |c| c.is_ascii_digit());
            }
        }
        j
    }
}

/// The tokens of `sql` that mean something: no whitespace, no comments.
pub fn code_tokens(sql: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut out = tokenize(sql)?;
    out.retain(|t| !t.is_trivia());
    Ok(out)
}

/// One top-level statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// From its first to its last token that is not whitespace or a comment, without the `;`.
    /// Comments inside are kept; comments before it belong to no statement.
    pub text: String,
    /// 1-based line where `text` starts.
    pub line: usize,
    /// Byte range of `text` in the script.
    pub span: Range<usize>,
}

/// Splits a script at its top-level `;` (not those inside literals, identifiers, comments or dollar
/// quotes). Pieces holding only whitespace and comments are dropped.
pub fn split_statements(sql: &str) -> Result<Vec<Statement>, LexError> {
    let mut out = Vec::new();
    let mut span: Option<(Range<usize>, usize)> = None;
    let mut flush = |span: &mut Option<(Range<usize>, usize)>| {
        if let Some((range, line)) = span.take() {
            out.push(Statement {
                text: sql[range.clone()].to_string(),
                line,
                span: range,
            });
        }
    };
    for token in lex(sql) {
        let token = checked(token)?;
        match token.kind {
            TokenKind::Semicolon => flush(&mut span),
            _ if token.is_trivia() => {}
            _ => match &mut span {
                Some((range, _)) => range.end = token.span.end,
                None => span = Some((token.span.clone(), token.line)),
            },
        }
    }
    flush(&mut span);
    Ok(out)
}

/// The positional parameters a statement uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// The highest `$n`, 0 when there is none.
    pub max: usize,
    /// Every `n` used.
    pub used: BTreeSet<usize>,
}

impl Placeholders {
    /// Parameters below `max` that are never used (PostgreSQL cannot infer their types).
    pub fn missing(&self) -> Vec<usize> {
        (1..=self.max).filter(|n| !self.used.contains(n)).collect()
    }
}

/// The `$n` placeholders of `sql`, outside literals, identifiers and comments.
pub fn placeholders(sql: &str) -> Result<Placeholders, LexError> {
    let mut out = Placeholders::default();
    for token in lex(sql) {
        if let TokenKind::Param(n) = checked(token)?.kind {
            out.max = out.max.max(n);
            out.used.insert(n);
        }
    }
    Ok(out)
}

/// `sql` with every `$n` placeholder (outside literals, identifiers and comments) replaced by `f(n)`;
/// everything else is copied byte for byte. Input that does not lex is handled the way the lexer
/// reads it: the unterminated literal or comment runs to the end, and nothing inside it is replaced.
pub fn replace_placeholders(sql: &str, f: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    for token in lex(sql) {
        match token.kind {
            TokenKind::Param(n) => out.push_str(&f(n)),
            _ => out.push_str(token.text),
        }
    }
    out
}

#[cfg(test)]
mod tests;
