//! The expectation grammar (see the module docs of `expect`). Hand-written: the grammar is a few
//! words per line, and a hand-written parser gives the precise, example-carrying errors people
//! need when they mistype a header line.

use super::{Check, ExpectParseError, Expectation, GenericExemption, HeaderKey, Op, ParseProblem};
use crate::plan::ScanKind;

const KNOWN_KINDS: &str = "seq-scan, index-scan, index-only-scan, bitmap-scan, index-access, no, heap-fetches, \
                           partitions, estimate-error, shared-buffers, temp-buffers, rows, tasks, \
                           router, aggregate-pushdown";

const KIND_NAMES: &[&str] = &[
    "seq-scan",
    "index-scan",
    "index-only-scan",
    "bitmap-scan",
    "index-access",
    "no",
    "heap-fetches",
    "partitions",
    "estimate-error",
    "shared-buffers",
    "temp-buffers",
    "rows",
    "tasks",
    "router",
    "aggregate-pushdown",
];

/// Node kinds `no KIND` accepts (kebab case of PostgreSQL's node types, plus aliases). A typo
/// must be an error, not an expectation that can never fail.
const NODE_KINDS: &[&str] = &[
    "aggregate",
    "append",
    "bitmap-and",
    "bitmap-heap-scan",
    "bitmap-index-scan",
    "bitmap-or",
    "bitmap-scan",
    "cte-scan",
    "custom-scan",
    "foreign-scan",
    "function-scan",
    "gather",
    "gather-merge",
    "group",
    "group-aggregate",
    "hash",
    "hash-aggregate",
    "hash-join",
    "incremental-sort",
    "index-only-scan",
    "index-scan",
    "limit",
    "lock-rows",
    "materialize",
    "memoize",
    "merge-append",
    "merge-join",
    "mixed-aggregate",
    "modify-table",
    "named-tuplestore-scan",
    "nested-loop",
    "project-set",
    "recursive-union",
    "result",
    "sample-scan",
    "seq-scan",
    "set-op",
    "sort",
    "subquery-scan",
    "table-function-scan",
    "tid-range-scan",
    "tid-scan",
    "unique",
    "values-scan",
    "window-agg",
    "work-table-scan",
];

fn example_for(kind: &str) -> &'static str {
    match kind {
        "seq-scan" => "seq-scan tenant",
        "index-scan" => "index-scan patient using patient_pkey",
        "bitmap-scan" => "bitmap-scan patient using patient_name_trgm_idx",
        "index-access" => "index-access appointment_audit using appointment_audit_appointment_idx",
        "no" => "no sort",
        "heap-fetches" => "heap-fetches = 0",
        "partitions" => "partitions appointment = 1",
        "estimate-error" => "estimate-error <= 10x",
        "shared-buffers" => "shared-buffers <= 100",
        "temp-buffers" => "temp-buffers = 0",
        "rows" => "rows >= 1",
        "tasks" => "tasks = 1",
        "router" => "router",
        "aggregate-pushdown" => "aggregate-pushdown",
        // index-only-scan, and the example for anything else.
        _ => "index-only-scan appointment using appointment_provider_day_idx",
    }
}

/// Splits on whitespace and around comparison operators, so `heap-fetches<=0` reads like
/// `heap-fetches <= 0`. Quoted identifiers keep their spaces.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                cur.push(c);
                for q in chars.by_ref() {
                    cur.push(q);
                    if q == '"' {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            '<' | '>' | '=' | '!' => {
                flush(&mut cur, &mut out);
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if matches!(n, '<' | '>' | '=' | '!') {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(op);
            }
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(found: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (distance(found, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c.to_owned())
}

/// A relation or index name: unquoted names fold to lower case like SQL; `"Quoted"` names keep
/// their case; a schema prefix is dropped (EXPLAIN prints bare names).
fn identifier(tok: &str) -> String {
    let bare = tok.rsplit('.').next().unwrap_or(tok);
    if bare.len() >= 2 && bare.starts_with('"') && bare.ends_with('"') {
        bare[1..bare.len() - 1].replace("\"\"", "\"")
    } else if tok.contains('"') {
        // `"My Schema".tbl` or a stray quote: keep as written minus quotes.
        bare.trim_matches('"').to_owned()
    } else {
        bare.to_lowercase()
    }
}

struct Cursor<'a> {
    toks: &'a [String],
    pos: usize,
    kind: String,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<&str> {
        let t = self.toks.get(self.pos)?;
        self.pos += 1;
        Some(t.as_str())
    }

    fn peek_is(&self, word: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.eq_ignore_ascii_case(word))
    }

    fn require(&mut self, what: &'static str) -> Result<String, ParseProblem> {
        match self.next() {
            Some(t) => Ok(t.to_owned()),
            None => Err(ParseProblem::Missing {
                kind: self.kind.clone(),
                what,
            }),
        }
    }

    fn relation(&mut self) -> Result<String, ParseProblem> {
        let t = self.require("a relation name")?;
        if is_operator_like(&t) {
            return Err(ParseProblem::Expected {
                expected: "a relation name",
                found: t,
            });
        }
        Ok(identifier(&t))
    }

    fn op(&mut self) -> Result<Op, ParseProblem> {
        let t = self.require("a comparison operator (=, <=, <, >=, >)")?;
        match t.as_str() {
            "=" | "==" => Ok(Op::Eq),
            "<=" => Ok(Op::Le),
            "<" => Ok(Op::Lt),
            ">=" => Ok(Op::Ge),
            ">" => Ok(Op::Gt),
            _ => Err(ParseProblem::BadOperator { found: t }),
        }
    }

    fn count(&mut self) -> Result<u64, ParseProblem> {
        let t = self.require("a number")?;
        t.replace('_', "")
            .parse::<u64>()
            .map_err(|_| ParseProblem::BadNumber {
                found: t,
                what: "a whole number (e.g. 0, 100, 10_000)",
            })
    }

    /// `10x`, `10`, `2.5x`, or `10 x`.
    fn factor(&mut self) -> Result<f64, ParseProblem> {
        let t = self.require("a factor such as 10x")?;
        let num = t.strip_suffix(['x', 'X', '×']).unwrap_or(&t);
        let f = num
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 1.0)
            .ok_or_else(|| ParseProblem::BadNumber {
                found: t.clone(),
                what: "a factor of at least 1 (e.g. 10x, 2.5x)",
            })?;
        if num.len() == t.len() && (self.peek_is("x") || self.peek_is("×")) {
            self.pos += 1;
        }
        Ok(f)
    }

    /// Optional `on REL`.
    fn on_relation(&mut self) -> Result<Option<String>, ParseProblem> {
        if self.peek_is("on") {
            self.pos += 1;
            return self.relation().map(Some);
        }
        Ok(None)
    }

    fn end(&mut self) -> Result<(), ParseProblem> {
        match self.toks.get(self.pos..) {
            Some(rest) if !rest.is_empty() => Err(ParseProblem::Trailing {
                found: rest.join(" ").chars().take(60).collect(),
            }),
            _ => Ok(()),
        }
    }
}

fn is_operator_like(t: &str) -> bool {
    t.chars().all(|c| matches!(c, '<' | '>' | '=' | '!'))
}

fn parse_check(toks: &[String]) -> Result<(Check, &'static str), (ParseProblem, &'static str)> {
    let Some(first) = toks.first() else {
        return Err((ParseProblem::Empty, example_for("")));
    };
    let kind = first.to_lowercase();
    let example = example_for(&kind);
    let mut c = Cursor {
        toks,
        pos: 1,
        kind: kind.clone(),
    };
    let check = (|| -> Result<Check, ParseProblem> {
        let check = match kind.as_str() {
            "seq-scan" | "index-scan" | "index-only-scan" | "bitmap-scan" => {
                let scan = match kind.as_str() {
                    "seq-scan" => ScanKind::Seq,
                    "index-scan" => ScanKind::Index,
                    "index-only-scan" => ScanKind::IndexOnly,
                    _ => ScanKind::Bitmap,
                };
                let relation = c.relation()?;
                let index = if c.peek_is("using") {
                    if scan == ScanKind::Seq {
                        return Err(ParseProblem::UsingOnSeqScan);
                    }
                    c.pos += 1;
                    let t = c.require("an index name after `using`")?;
                    Some(identifier(&t))
                } else {
                    None
                };
                Check::Scan {
                    kind: scan,
                    relation,
                    index,
                }
            }
            "index-access" => {
                let relation = c.relation()?;
                let index = if c.peek_is("using") {
                    c.pos += 1;
                    let t = c.require("an index name after `using`")?;
                    Some(identifier(&t))
                } else {
                    None
                };
                Check::IndexAccess { relation, index }
            }
            "no" => {
                let k = c
                    .require("a node kind (e.g. sort, seq-scan, hash-join) or `spill`")?
                    .to_lowercase();
                if k == "spill" || k == "spills" {
                    Check::NoSpill
                } else {
                    let base = k.strip_prefix("parallel-").unwrap_or(&k);
                    if !NODE_KINDS.contains(&base) {
                        let mut all: Vec<&str> = NODE_KINDS.to_vec();
                        all.push("spill");
                        return Err(ParseProblem::UnknownNodeKind {
                            suggestion: suggest(&k, &all),
                            found: k,
                        });
                    }
                    let relation = c.on_relation()?;
                    Check::NoNode { kind: k, relation }
                }
            }
            "heap-fetches" => {
                let op = c.op()?;
                let n = c.count()?;
                let relation = c.on_relation()?;
                Check::HeapFetches { op, n, relation }
            }
            "partitions" => {
                let relation = c.relation()?;
                let op = c.op()?;
                let n = c.count()?;
                Check::Partitions { relation, op, n }
            }
            "estimate-error" => {
                let op = c.op()?;
                let factor = c.factor()?;
                Check::EstimateError { op, factor }
            }
            "shared-buffers" => Check::SharedBuffers {
                op: c.op()?,
                n: c.count()?,
            },
            "temp-buffers" => Check::TempBuffers {
                op: c.op()?,
                n: c.count()?,
            },
            "rows" => Check::Rows {
                op: c.op()?,
                n: c.count()?,
            },
            "tasks" => Check::Tasks {
                op: c.op()?,
                n: c.count()?,
            },
            "router" => Check::Router,
            "aggregate-pushdown" => Check::AggregatePushdown,
            _ => {
                return Err(ParseProblem::UnknownKind {
                    suggestion: suggest(&kind, KIND_NAMES),
                    found: first.clone(),
                    known: KNOWN_KINDS,
                });
            }
        };
        c.end()?;
        Ok(check)
    })();
    check.map(|ch| (ch, example)).map_err(|p| (p, example))
}

/// Parses the text of one `-- expect:` line (without the `expect:` key) found at `file:line`.
pub fn parse_expectation(
    text: &str,
    file: &str,
    line: usize,
) -> Result<Expectation, ExpectParseError> {
    let trimmed = text.trim();
    let toks = tokenize(trimmed);
    match parse_check(&toks) {
        Ok((check, _)) => Ok(Expectation {
            check,
            text: trimmed.to_owned(),
            file: file.to_owned(),
            line,
        }),
        Err((problem, example)) => Err(ExpectParseError {
            file: file.to_owned(),
            line,
            key: HeaderKey::Expect,
            text: trimmed.to_owned(),
            problem: Box::new(problem),
            example,
        }),
    }
}

/// Parses the text of a `-- generic:` header line: `exempt <reason>`, the reason required.
pub fn parse_generic(
    text: &str,
    file: &str,
    line: usize,
) -> Result<GenericExemption, ExpectParseError> {
    const EXAMPLE: &str = "exempt the application never prepares this statement";
    let trimmed = text.trim();
    let err = |problem| ExpectParseError {
        file: file.to_owned(),
        line,
        key: HeaderKey::Generic,
        text: trimmed.to_owned(),
        problem: Box::new(problem),
        example: EXAMPLE,
    };
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (trimmed, ""),
    };
    if !word.trim_end_matches(':').eq_ignore_ascii_case("exempt") {
        return Err(err(if word.is_empty() {
            ParseProblem::Missing {
                kind: "generic".into(),
                what: "`exempt <reason>`",
            }
        } else {
            ParseProblem::Expected {
                expected: "`exempt <reason>`",
                found: word.to_owned(),
            }
        }));
    }
    let reason = rest.trim_start_matches([':', '-', '—']).trim();
    if reason.is_empty() {
        return Err(err(ParseProblem::MissingReason));
    }
    Ok(GenericExemption {
        reason: reason.to_owned(),
        file: file.to_owned(),
        line,
    })
}
