//! The pasted forms one by one (see `input`), plans of any depth, and multi-statement arrays.
//! The real samples of each form are run by `corpus_tests`; these pin the details.

use super::input::{Form, extract};
use super::{PartitionMap, PlanParseError, parse_plan, parse_plans, read_plans};
use crate::analysis::PlanCheck;

const SEQ: &str = r#"[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t", "Alias": "t"}}]"#;

fn form_of(text: &str) -> Form {
    read_plans(text).unwrap_or_else(|e| panic!("{e}")).0
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let plan = parse_plan(&format!("\u{feff}{SEQ}")).unwrap();
    assert_eq!(plan.root.relation_name.as_deref(), Some("t"));
}

#[test]
fn psql_tuples_only_aligned_is_read_by_its_continuation_marks() {
    let text = " [                     +\n   {                   +\n     \"Plan\": {         +\n       \"Node Type\": \"Result\"+\n     }                 +\n   }                   +\n ]\n";
    assert_eq!(form_of(text), Form::PsqlAligned);
    assert_eq!(parse_plan(text).unwrap().root.node_type, "Result");
}

#[test]
fn psql_expanded_output_aligned_and_unaligned() {
    let aligned = "-[ RECORD 1 ]------------------\nQUERY PLAN | [                +\n           |   {             +\n           |     \"Plan\": {   +\n           |       \"Node Type\": \"Result\"+\n           |     }           +\n           |   }             +\n           | ]\n\n";
    assert_eq!(form_of(aligned), Form::PsqlExpanded);
    assert_eq!(parse_plan(aligned).unwrap().root.node_type, "Result");
    let unaligned = "QUERY PLAN|[\n  {\n    \"Plan\": {\"Node Type\": \"Result\"}\n  }\n]\n";
    assert_eq!(form_of(unaligned), Form::PsqlExpanded);
    assert_eq!(parse_plan(unaligned).unwrap().root.node_type, "Result");
}

#[test]
fn an_auto_explain_message_copied_alone_and_csv_fields() {
    let message = "duration: 1.000 ms  plan:\n{\n  \"Query Text\": \"select 1\",\n  \"Plan\": {\"Node Type\": \"Result\"}\n}\n";
    let (form, plans) = read_plans(message).unwrap();
    assert_eq!(form, Form::AutoExplainStderr);
    assert_eq!(plans[0].extra["Query Text"], "select 1");
    let csv = "\"[{\"\"Plan\"\": {\"\"Node Type\"\": \"\"Result\"\"}}]\"";
    assert_eq!(form_of(csv), Form::CsvField);
}

#[test]
fn multi_statement_arrays_give_every_plan() {
    let two = r#"[{"Plan": {"Node Type": "ModifyTable", "Relation Name": "a"}},
                  {"Plan": {"Node Type": "ModifyTable", "Relation Name": "b"}}]"#;
    let plans = parse_plans(two).unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1].root.relation_name.as_deref(), Some("b"));
    assert!(matches!(
        parse_plan(two).unwrap_err(),
        PlanParseError::MultipleStatements { count: 2 }
    ));
}

#[test]
fn other_formats_are_refused_in_one_line() {
    for (text, needle) in [
        (
            "Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)\n",
            "text-format EXPLAIN",
        ),
        (
            "<explain xmlns=\"http://www.postgresql.org/2009/explain\">\n",
            "XML-format",
        ),
        ("- Plan: \n    Node Type: \"Result\"\n", "YAML-format"),
        (
            "QUERY PLAN\n----------\n(0 rows)\n",
            "QUERY PLAN column holds no JSON",
        ),
        (
            "   QUERY PLAN\n---------------\n Result  (cost=0.00..0.01 rows=1 width=4)\n(1 row)\n",
            "text-format EXPLAIN",
        ),
        ("", "empty"),
    ] {
        let e = parse_plan(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    assert!(extract("hello").is_err());
}

/// A chain `depth` nodes deep, as JSON text.
fn chain(depth: usize) -> String {
    let mut s = String::from("[{\"Plan\": ");
    for i in 0..depth {
        s.push_str(&format!(
            "{{\"Node Type\": \"Limit\", \"Plan Rows\": {i}, \"Actual Loops\": 1, \"Actual Rows\": 1, \"Plans\": ["
        ));
    }
    s.push_str("{\"Node Type\": \"Seq Scan\", \"Relation Name\": \"t\"}");
    for _ in 0..depth {
        s.push_str("]}");
    }
    s.push_str("}]");
    s
}

#[test]
fn plans_of_any_depth_parse_analyse_render_and_serialise() {
    let text = chain(10_000);
    let plan = parse_plan(&text).expect("a 10,000-deep plan parses");
    assert_eq!(plan.nodes().len(), 10_001);
    let copy = plan.clone();
    assert_eq!(copy, plan);
    drop(copy);
    let check = PlanCheck::analyse(plan, None, &[], &PartitionMap::none(), false);
    assert_eq!(check.facts.node_count, 10_001);
    assert!(check.facts.relations.contains_key("t"));
    let tree = crate::report::tree::render_tree(&check.plan, &[], false);
    assert_eq!(tree.lines().count(), 10_001);
    assert!(
        tree.len() < 4_000_000,
        "indentation is capped: {}",
        tree.len()
    );
    let json = serde_json::to_string(&[&check.plan]).expect("serialises");
    let back = parse_plan(&json).expect("reads back");
    assert_eq!(back, check.plan);
    let _ = format!("{:?}", back.root.plans.len());
    // A deep document that is not a plan fails cleanly (and is dropped without recursion).
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_plan(&deep_array).is_err());
}

/// Found by the proptest: a psql frame with nothing after it ran past the end of the lines.
#[test]
fn truncated_psql_frames_are_errors_not_panics() {
    for text in [
        "---",
        "+---+",
        "QUERY PLAN\n----------",
        "----------\n QUERY PLAN",
        "┌────┐",
        " QUERY PLAN \n",
    ] {
        let r = std::panic::catch_unwind(|| super::read_plans(text));
        assert!(r.is_ok(), "{text:?} panicked");
        assert!(r.unwrap().is_err(), "{text:?} is not a plan");
    }
}
