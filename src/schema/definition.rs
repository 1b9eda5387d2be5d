//! Whether an index in the database is the index a strategy file defines under its name.
//!
//! Strategy drift used to be judged by name only, so an index whose definition changed in the
//! strategy file (tuned's `appointment_provider_day_idx` gained `INCLUDE (tenant_id)`) or was
//! replaced by hand under the same name stayed in place forever, and every plan, size and write
//! figure measured on it described another design. Here each strategy index is compared by what
//! makes it that index: uniqueness, access method, key columns or expressions (with their operator
//! class and ordering), `INCLUDE` columns, `NULLS NOT DISTINCT` and the partial-index predicate.
//!
//! Expressions are not compared as text: the file says `status <> 'cancelled'` where PostgreSQL
//! stores `(status <> 'cancelled'::appointment_status)`. Both sides go through the same read-only
//! round trip instead — `EXPLAIN (VERBOSE) SELECT <expressions> FROM <a row of the table's type>
//! WHERE false`, which parses, resolves and prints them as PostgreSQL's deparser does, without
//! running anything or reading the table — so equal definitions print equally however they were
//! written. Storage parameters (`WITH`),
//! tablespace and collations are not compared: they do not change which plans the index allows.

use postgres::Client;

use super::IndexDef;
use crate::error::{DbContext, Result};
use crate::sql::{Token, TokenKind};

/// One key of an index definition, as a strategy file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    /// The column or expression as written: `provider_id`, `(a || b)`, `lower(name)`.
    pub expr: String,
    /// The operator class, lower-cased and without its schema, when one is named.
    pub opclass: Option<String>,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST` (the default when descending).
    pub nulls_first: bool,
}

/// The parts of an index definition that decide which plans it allows, read from the text after
/// the table name of a `CREATE INDEX` ([`IndexDef::body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexParts {
    /// `USING method`, lower-cased; `btree` when not given.
    pub method: String,
    /// The key columns and expressions, in order.
    pub keys: Vec<IndexKey>,
    /// The `INCLUDE` columns as written.
    pub include: Vec<String>,
    /// `NULLS NOT DISTINCT`.
    pub nulls_not_distinct: bool,
    /// The `WHERE` predicate as written.
    pub predicate: Option<String>,
}

/// Index of the token closing the parenthesis opened at `open`, if any.
fn closing(tokens: &[Token<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.text {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The comma-separated items between `tokens[open]` = `(` and its closing parenthesis, as token
/// ranges, and the index after the closing parenthesis.
fn items(tokens: &[Token<'_>], open: usize) -> Option<(Vec<std::ops::Range<usize>>, usize)> {
    let close = closing(tokens, open)?;
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, open + 1);
    for (i, t) in tokens.iter().enumerate().take(close).skip(open + 1) {
        match t.text {
            "(" => depth += 1,
            ")" => depth -= 1,
            "," if depth == 0 => {
                out.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(start..close);
    out.retain(|r| !r.is_empty());
    Some((out, close + 1))
}

impl IndexDef {
    /// The definition's parts, read with the lexer; `None` when the body is not a form this reads
    /// (then no definition is compared, and nothing is reported).
    pub fn parts(&self) -> Option<IndexParts> {
        let body = self.body.as_str();
        let tokens = crate::sql::code_tokens(body).ok()?;
        let text = |r: std::ops::Range<usize>| -> String {
            body[tokens[r.start].span.start..tokens[r.end - 1].span.end].to_string()
        };
        let mut i = 0;
        let mut method = "btree".to_string();
        if tokens.first()?.is_keyword("USING") {
            method = tokens.get(1)?.ident()?;
            i = 2;
        }
        if tokens.get(i)?.text != "(" {
            return None;
        }
        let (list, mut i) = items(&tokens, i)?;
        let mut keys = Vec::with_capacity(list.len());
        for r in list {
            keys.push(key(&tokens[r.clone()], r.start, &text)?);
        }
        let mut parts = IndexParts {
            method,
            keys,
            include: Vec::new(),
            nulls_not_distinct: false,
            predicate: None,
        };
        while let Some(t) = tokens.get(i) {
            if t.is_keyword("INCLUDE") && tokens.get(i + 1)?.text == "(" {
                let (list, next) = items(&tokens, i + 1)?;
                parts.include = list.into_iter().map(text).collect();
                i = next;
            } else if t.is_keyword("NULLS") {
                parts.nulls_not_distinct = tokens.get(i + 1)?.is_keyword("NOT");
                i += if parts.nulls_not_distinct { 3 } else { 2 };
            } else if t.is_keyword("WITH") && tokens.get(i + 1)?.text == "(" {
                i = closing(&tokens, i + 1)? + 1;
            } else if t.is_keyword("TABLESPACE") {
                i += 2;
            } else if t.is_keyword("WHERE") && i + 1 < tokens.len() {
                parts.predicate = Some(text(i + 1..tokens.len()));
                break;
            } else {
                return None;
            }
        }
        Some(parts)
    }
}

/// One key: the column or expression, then `[COLLATE c] [opclass [(params)]] [ASC|DESC]
/// [NULLS FIRST|LAST]`. `at` is the position of `tokens[0]` in the whole body, for `text`.
fn key(
    tokens: &[Token<'_>],
    at: usize,
    text: &impl Fn(std::ops::Range<usize>) -> String,
) -> Option<IndexKey> {
    let first = tokens.first()?;
    let end = if first.text == "(" {
        closing(tokens, 0)? + 1
    } else if tokens.get(1).is_some_and(|t| t.text == "(") {
        closing(tokens, 1)? + 1
    } else {
        1
    };
    let mut k = IndexKey {
        expr: text(at..at + end),
        opclass: None,
        descending: false,
        nulls_first: false,
    };
    let mut nulls = None;
    let mut i = end;
    while let Some(t) = tokens.get(i) {
        if t.is_keyword("COLLATE") {
            i += 2;
            while tokens.get(i).is_some_and(|t| t.text == ".") {
                i += 2;
            }
        } else if t.is_keyword("ASC") {
            i += 1;
        } else if t.is_keyword("DESC") {
            k.descending = true;
            i += 1;
        } else if t.is_keyword("NULLS") {
            nulls = Some(tokens.get(i + 1)?.is_keyword("FIRST"));
            i += 2;
        } else if t.text == "(" {
            i = closing(tokens, i)? + 1; // operator class parameters
        } else if matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) {
            // The operator class, possibly schema-qualified: its last part.
            let mut name = t.ident()?;
            i += 1;
            while tokens.get(i).is_some_and(|t| t.text == ".") {
                name = tokens.get(i + 1)?.ident()?;
                i += 2;
            }
            k.opclass = Some(name);
        } else {
            return None;
        }
    }
    k.nulls_first = nulls.unwrap_or(k.descending);
    Some(k)
}

/// What differs between an index in the database and its definition in a strategy file, by
/// part: `table` (alone: the index is on another table), `unique`, `method`, `keys`, `include`,
/// `nulls not distinct`, `predicate`. Empty when they
/// are the same index; `None` when the file's definition is not a form [`IndexDef::parts`] reads
/// or the index does not exist. Reads only.
pub fn index_differences(client: &mut Client, def: &IndexDef) -> Result<Option<Vec<&'static str>>> {
    let Some(parts) = def.parts() else {
        return Ok(None);
    };
    let index = super::QualifiedName {
        schema: def.table.schema.clone(),
        name: def.name.clone(),
    }
    .to_sql();
    let row = client
        .query_opt(
            "SELECT i.indisunique, am.amname::text, i.indnkeyatts::int,
                    coalesce((to_jsonb(i)->>'indnullsnotdistinct')::boolean, false),
                    pg_get_expr(i.indpred, i.indrelid),
                    array(SELECT pg_get_indexdef(i.indexrelid, k, true)
                            FROM generate_series(1, i.indnatts) AS k ORDER BY k),
                    array(SELECT o.opcname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY
                                 AS u(oid, n) JOIN pg_opclass o ON o.oid = u.oid ORDER BY n),
                    array(SELECT o.opcdefault FROM unnest(i.indclass::oid[]) WITH ORDINALITY
                                 AS u(oid, n) JOIN pg_opclass o ON o.oid = u.oid ORDER BY n),
                    i.indoption::int2[]::int[],
                    i.indrelid IS NOT DISTINCT FROM to_regclass($2)
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am am ON am.oid = c.relam
              WHERE i.indexrelid = to_regclass($1)",
            &[&index, &def.table.to_sql()],
        )
        .db(format!("reading the definition of index {}", def.name))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let unique: bool = row.get(0);
    let method: String = row.get(1);
    let nkeys = usize::try_from(row.get::<_, i32>(2)).unwrap_or(0);
    let nulls_not_distinct: bool = row.get(3);
    let predicate: Option<String> = row.get(4);
    let columns: Vec<String> = row.get(5);
    let opclasses: Vec<String> = row.get(6);
    let defaults: Vec<bool> = row.get(7);
    let options: Vec<i32> = row.get(8);
    let (keys, include) = columns.split_at(nkeys.min(columns.len()));

    let mut differs = Vec::new();
    if !row.get::<_, bool>(9) {
        // On another table: nothing else is worth comparing.
        return Ok(Some(vec!["table"]));
    }
    if unique != def.unique {
        differs.push("unique");
    }
    if method != parts.method {
        differs.push("method");
    }
    if nulls_not_distinct != parts.nulls_not_distinct {
        differs.push("nulls not distinct");
    }
    let same_keys = keys.len() == parts.keys.len()
        && parts.keys.iter().enumerate().all(|(n, k)| {
            let opclass_ok = match &k.opclass {
                Some(name) => opclasses.get(n) == Some(name),
                None => defaults.get(n) == Some(&true),
            };
            let option = options.get(n).copied().unwrap_or(0);
            opclass_ok && (option & 1 != 0) == k.descending && (option & 2 != 0) == k.nulls_first
        });
    let same_include = include.len() == parts.include.len();
    let same_predicate = predicate.is_some() == parts.predicate.is_some();
    // The expressions of both sides, canonicalised by PostgreSQL in one round trip each. The
    // file's may not even resolve on this table (a column it names is not there): then they are
    // certainly not what the index holds.
    let file: Vec<String> = parts
        .keys
        .iter()
        .map(|k| k.expr.clone())
        .chain(parts.include.iter().cloned())
        .chain(parts.predicate.iter().map(|p| format!("({p})")))
        .collect();
    let there: Vec<String> = columns
        .iter()
        .cloned()
        .chain(predicate.iter().map(|p| format!("({p})")))
        .collect();
    let there = canonical(client, def, &there)?;
    let Ok(file) = canonical(client, def, &file) else {
        differs.extend(["keys", "include", "predicate"]);
        return Ok(Some(differs));
    };
    let (fk, fi) = (parts.keys.len(), parts.include.len());
    let (tk, ti) = (keys.len(), include.len());
    if !(same_keys && file.get(..fk) == there.get(..tk)) {
        differs.push("keys");
    }
    if !(same_include && file.get(fk..fk + fi) == there.get(tk..tk + ti)) {
        differs.push("include");
    }
    if !(same_predicate && file.get(fk + fi..) == there.get(tk + ti..)) {
        differs.push("predicate");
    }
    Ok(Some(differs))
}

/// `exprs` over `def`'s table as PostgreSQL prints them after parsing (see the module docs).
/// Reads only: EXPLAIN without ANALYZE runs nothing, and no table is even planned.
fn canonical(client: &mut Client, def: &IndexDef, exprs: &[String]) -> Result<Vec<String>> {
    if exprs.is_empty() {
        return Ok(Vec::new());
    }
    // Over a row of the table's type rather than the table: no table is read or planned (a Citus
    // coordinator would plan a distributed table as a remote scan and hide the expressions), and
    // OFFSET 0 keeps the planner from folding the NULL row into them.
    let sql = format!(
        "EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) SELECT {} FROM (SELECT (NULL::{}).* OFFSET 0) \
         AS {} WHERE false",
        exprs.join(", "),
        def.table.to_sql(),
        super::quote_ident(&def.table.name)
    );
    let row = client
        .query_one(&sql, &[])
        .db(format!("reading the definition of index {}", def.name))?;
    let plan: serde_json::Value = row.get(0);
    Ok(plan[0]["Plan"]["Output"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sql: &str) -> Option<IndexParts> {
        let stmts = crate::sql::split_statements(sql).unwrap();
        IndexDef::parse(&stmts[0]).unwrap().unwrap().parts()
    }

    fn key(expr: &str) -> IndexKey {
        IndexKey {
            expr: expr.into(),
            opclass: None,
            descending: false,
            nulls_first: false,
        }
    }

    #[test]
    fn index_definitions_are_read_into_their_parts() {
        assert_eq!(
            parts(
                "CREATE INDEX d ON appointment (provider_id, scheduled_at) /* c */\n \
                 INCLUDE (tenant_id, \"Odd\") WHERE status <> 'cancelled' AND (a OR b)"
            ),
            Some(IndexParts {
                method: "btree".into(),
                keys: vec![key("provider_id"), key("scheduled_at")],
                include: vec!["tenant_id".into(), "\"Odd\"".into()],
                nulls_not_distinct: false,
                predicate: Some("status <> 'cancelled' AND (a OR b)".into()),
            })
        );
        let p = parts(
            "CREATE UNIQUE INDEX t ON patient USING GIN ((family_name || ' ' || given_name) \
             public.gin_trgm_ops, lower(x) COLLATE \"C\" DESC, y NULLS LAST, z DESC NULLS LAST) \
             NULLS NOT DISTINCT WITH (fillfactor = 90) TABLESPACE pg_default",
        )
        .unwrap();
        assert_eq!(p.method, "gin");
        assert!(p.nulls_not_distinct && p.predicate.is_none() && p.include.is_empty());
        assert_eq!(
            p.keys,
            vec![
                IndexKey {
                    opclass: Some("gin_trgm_ops".into()),
                    ..key("(family_name || ' ' || given_name)")
                },
                IndexKey {
                    descending: true,
                    nulls_first: true,
                    ..key("lower(x)")
                },
                key("y"),
                IndexKey {
                    descending: true,
                    ..key("z")
                },
            ]
        );
        // Every shipped strategy index is read (so each is compared).
        for s in super::super::strategies().unwrap() {
            for index in s.indexes() {
                assert!(index.parts().is_some(), "{}: {}", s.name, index.name);
            }
        }
        // What this does not read is left alone rather than misread.
        assert_eq!(parts("CREATE INDEX x ON t (a) SOMETHING ELSE"), None);
    }
}
