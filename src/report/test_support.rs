//! Fixed inputs for the report writers' tests: checked queries analysed from captured PostgreSQL 15
//! plans (one meets its expectations, one does not).

use std::collections::BTreeMap;
use std::path::Path;

use crate::analysis::{Params, QueryCheck};
use crate::plan::{PartitionMap, parse_plan};

/// An Index Only Scan with zero heap fetches: meets `no seq-scan` and `heap-fetches = 0`.
pub const INDEX_ONLY: &str =
    include_str!("../../tests/fixtures/plans/pg15_clean_index_only_count.json");
/// A Seq Scan with a filter: fails `no seq-scan`.
pub const SEQ_SCAN: &str = include_str!("../../tests/fixtures/plans/pg15_seq_scan_filter.json");

/// Query `name` (expects no seq-scan and no heap fetches) checked on the given custom and generic
/// plans.
pub fn query_check(name: &str, custom: &str, generic: &str) -> QueryCheck {
    let text = format!(
        "-- name: {name}\n-- summary: Patients in an id range.\n-- params: lo <- SELECT 1\n\
         -- expect: no seq-scan\n-- expect: heap-fetches = 0\nSELECT count(*) FROM patient WHERE id >= $1"
    );
    let q = crate::catalog::parse(Path::new("sql/queries/q.sql"), &text).unwrap();
    let partitions = PartitionMap::from_catalog(BTreeMap::new());
    let params = Params {
        names: vec!["lo".into()],
        values: vec![Some("1000".into())],
        tenant: None,
    };
    QueryCheck::analyse(
        &q,
        params,
        parse_plan(custom).unwrap(),
        parse_plan(generic).unwrap(),
        &partitions,
    )
}
