use super::*;
use proptest::prelude::*;

fn kinds(sql: &str) -> Vec<(TokenKind, &str)> {
    lex(sql).map(|t| (t.kind, t.text)).collect()
}

fn code(sql: &str) -> Vec<(TokenKind, &str)> {
    lex(sql)
        .filter(|t| !t.is_trivia())
        .map(|t| (t.kind, t.text))
        .collect()
}

use TokenKind::*;

#[test]
fn every_token_kind() {
    assert_eq!(
        kinds("SELECT a.b::int, $1 FROM t -- c\n/* b */;"),
        vec![
            (Word, "SELECT"),
            (Whitespace, " "),
            (Word, "a"),
            (Punct, "."),
            (Word, "b"),
            (Punct, "::"),
            (Word, "int"),
            (Punct, ","),
            (Whitespace, " "),
            (Param(1), "$1"),
            (Whitespace, " "),
            (Word, "FROM"),
            (Whitespace, " "),
            (Word, "t"),
            (Whitespace, " "),
            (LineComment, "-- c"),
            (Whitespace, "\n"),
            (BlockComment, "/* b */"),
            (Semicolon, ";"),
        ]
    );
    assert_eq!(
        code(
            r#"'it''s' E'a\'b' U&'d\0061' B'101' X'ff' N'n' "Quo""ted" U&"x" $$a;b$$ 1.5e-3 .5 0x1F 1_000"#
        ),
        vec![
            (String, "'it''s'"),
            (String, r"E'a\'b'"),
            (String, r"U&'d\0061'"),
            (String, "B'101'"),
            (String, "X'ff'"),
            (String, "N'n'"),
            (QuotedIdent, r#""Quo""ted""#),
            (QuotedIdent, r#"U&"x""#),
            (DollarString, "$$a;b$$"),
            (Number, "1.5e-3"),
            (Number, ".5"),
            (Number, "0x1F"),
            (Number, "1_000"),
        ]
    );
}

#[test]
fn operators_stop_before_comments() {
    assert_eq!(
        code("a<>b||c+--x\n-1 :=/*y*/"),
        vec![
            (Word, "a"),
            (Punct, "<>"),
            (Word, "b"),
            (Punct, "||"),
            (Word, "c"),
            (Punct, "+"),
            (Punct, "-"),
            (Number, "1"),
            (Punct, ":="),
        ]
    );
}

#[test]
fn block_comments_nest() {
    let sql = "/* a /* b */ still comment */ x";
    assert_eq!(code(sql), vec![(Word, "x")]);
    assert_eq!(
        kinds(sql)[0],
        (BlockComment, "/* a /* b */ still comment */")
    );
}

#[test]
fn parameters_are_not_dollar_quote_tags() {
    assert_eq!(
        code("$1 $23$ $tag$ x $1 $$ $tag$ $_a1$y$_a1$ a$1 $"),
        vec![
            (Param(1), "$1"),
            (Param(23), "$23"),
            (Punct, "$"),
            (DollarString, "$tag$ x $1 $$ $tag$"),
            (DollarString, "$_a1$y$_a1$"),
            // `$` continues an identifier: no parameter here.
            (Word, "a$1"),
            (Punct, "$"),
        ]
    );
    // A tag cannot start with a digit, and the closing delimiter must match exactly.
    assert_eq!(
        code("$a$ $b$ $A$ $a$"),
        vec![(DollarString, "$a$ $b$ $A$ $a$")]
    );
}

#[test]
fn backslashes_escape_only_in_e_strings() {
    assert_eq!(code(r"'a\' x"), vec![(String, r"'a\'"), (Word, "x")]);
    assert_eq!(code(r"e'a\'' x"), vec![(String, r"e'a\''"), (Word, "x")]);
    assert_eq!(code("E'a''b'"), vec![(String, "E'a''b'")]);
    // An identifier that merely ends in e is not a prefix.
    assert_eq!(code("type'x'"), vec![(Word, "type"), (String, "'x'")]);
}

#[test]
fn unterminated_input_is_an_error_at_its_first_line() {
    let cases = [
        ("SELECT 1;\nSELECT 'abc\n\n", Unterminated::String, 2),
        ("SELECT E'ab\\'", Unterminated::String, 1),
        ("\n\n\"ident", Unterminated::QuotedIdent, 3),
        ("x /* a /* b */\n", Unterminated::BlockComment, 1),
        ("\nDO $body$ BEGIN END $$;", Unterminated::DollarString, 2),
    ];
    for (sql, what, line) in cases {
        let e = tokenize(sql).unwrap_err();
        assert_eq!(e.problem, Problem::Unterminated(what), "{sql:?}");
        assert_eq!(e.line, line, "{sql:?}");
        let last = lex(sql).last().unwrap();
        assert_eq!(last.span.end, sql.len());
        assert_eq!(last.kind, Invalid(Problem::Unterminated(what)));
    }
    assert_eq!(tokenize("SELECT $1 /* x */ \n -- y\n").unwrap().len(), 8);
    let e = tokenize("\nSELECT $99999999999999999999999").unwrap_err();
    assert_eq!((e.problem, e.line), (Problem::ParameterTooLarge, 2));
    assert_eq!(
        e.to_string(),
        "parameter number too large starting on line 2"
    );
    assert_eq!(
        tokenize("'x").unwrap_err().to_string(),
        "unterminated string literal starting on line 1"
    );
}

#[test]
fn lines_and_spans() {
    let sql = "a\n'b\nc'\n  d";
    let tokens: Vec<_> = code_tokens(sql).unwrap();
    let lines: Vec<_> = tokens.iter().map(|t| (t.text, t.line)).collect();
    assert_eq!(lines, vec![("a", 1), ("'b\nc'", 2), ("d", 4)]);
    assert_eq!(&sql[tokens[2].span.clone()], "d");
}

#[test]
fn multibyte_utf8() {
    let sql = "SELECT 'ünï' AS größe, \"naïve\" FROM été -- ✓\n/* 日本 */ $ä$x$ä$";
    assert_eq!(
        code(sql),
        vec![
            (Word, "SELECT"),
            (String, "'ünï'"),
            (Word, "AS"),
            (Word, "größe"),
            (Punct, ","),
            (QuotedIdent, "\"naïve\""),
            (Word, "FROM"),
            (Word, "été"),
            (DollarString, "$ä$x$ä$"),
        ]
    );
    assert_eq!(
        tokenize(sql)
            .unwrap()
            .iter()
            .map(|t| t.text)
            .collect::<std::string::String>(),
        sql
    );
}

#[test]
fn identifiers_resolve_like_postgresql() {
    let t = code_tokens(r#"Appointment "Mixed""Case" U&"x" 'lit'"#).unwrap();
    assert_eq!(t[0].ident().as_deref(), Some("appointment"));
    assert_eq!(t[1].ident().as_deref(), Some("Mixed\"Case"));
    assert_eq!(t[2].ident(), None);
    assert_eq!(t[3].ident(), None);
    assert!(t[0].is_keyword("APPOINTMENT") && !t[1].is_keyword("mixed\"case"));
}

#[test]
fn statements_split_at_top_level_semicolons() {
    let sql = "-- header\n\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
               /* only a comment */ ;\n\
               SELECT ';', \"a;b\" -- ; here\n  FROM t\n;;\n  -- trailing comment\n";
    let stmts = split_statements(sql).unwrap();
    assert_eq!(stmts.len(), 2, "{stmts:#?}");
    assert_eq!(
        stmts[0].text,
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql"
    );
    assert_eq!(stmts[0].line, 3);
    assert_eq!(stmts[1].text, "SELECT ';', \"a;b\" -- ; here\n  FROM t");
    assert_eq!(stmts[1].line, 5);
    assert_eq!(&sql[stmts[1].span.clone()], stmts[1].text);
    // No final `;` needed; nothing but comments is no statement.
    assert_eq!(split_statements("SELECT 1").unwrap().len(), 1);
    assert!(split_statements("-- x\n/* y */ ; ;").unwrap().is_empty());
    assert_eq!(split_statements("SELECT 1; 'x").unwrap_err().line, 1);
}

#[test]
fn placeholders_outside_literals_and_comments() {
    let p = placeholders("SELECT $2, '$9', \"$8\", $$ $7 $$ -- $6\n /* $5 */ $3, x$4, $2").unwrap();
    assert_eq!(p.max, 3);
    assert_eq!(p.used.iter().copied().collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(p.missing(), vec![1]);
    assert_eq!(placeholders("SELECT 1").unwrap(), Placeholders::default());
    assert!(placeholders("SELECT '$1").is_err());
}

#[test]
fn replacing_placeholders() {
    let out = replace_placeholders(
        "SELECT $1, '$1', \"$2\" -- $1\n, $10::int, $$ $2 $$, E'\\'$1'",
        |n| format!(":p{n}"),
    );
    assert_eq!(
        out,
        "SELECT :p1, '$1', \"$2\" -- $1\n, :p10::int, $$ $2 $$, E'\\'$1'"
    );
    // Unterminated: everything from the open literal on is copied unchanged.
    assert_eq!(replace_placeholders("$1 '$2", |n| n.to_string()), "1 '$2");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lexing_never_panics_and_covers_the_input(s in r#"(?s)[\x00-\x7f]{0,40}|[-$'"/*;eEuU&\n a1ä日]{0,40}"#) {
        let mut end = 0;
        let mut line = 1;
        for t in lex(&s) {
            prop_assert_eq!(t.span.start, end);
            prop_assert!(t.span.end > t.span.start);
            prop_assert_eq!(&s[t.span.clone()], t.text);
            prop_assert_eq!(t.line, line);
            line += t.text.matches('\n').count();
            end = t.span.end;
        }
        prop_assert_eq!(end, s.len());
        let _ = split_statements(&s);
        let _ = placeholders(&s);
        let replaced = replace_placeholders(&s, |_| "$x".into());
        if placeholders(&s).is_ok_and(|p| p.used.is_empty()) {
            prop_assert_eq!(replaced, s.clone());
        }
    }

    #[test]
    fn any_unicode_lexes_to_spans_covering_it(s in "\\PC{0,30}") {
        let total: usize = lex(&s).map(|t| t.text.len()).sum();
        prop_assert_eq!(total, s.len());
    }
}
