//! `seq-scan-large`: a Seq Scan reading many rows. Fine for a report, usually wrong for a hot
//! OLTP query. Rows read = (rows returned + rows removed by filter) × loops; without ANALYZE the
//! estimate of rows returned stands in (a lower bound of rows read).

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "seq-scan-large";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for r in ctx.nodes {
        let n = r.node;
        if n.node_type != "Seq Scan" {
            continue;
        }
        let (read, how) = match n.total_actual_rows() {
            Some(returned) => (
                returned + n.total_rows_removed_by_filter().unwrap_or(0.0),
                "read",
            ),
            None => (n.plan_rows.unwrap_or(0.0), "expected to return"),
        };
        if read < ctx.t.seq_scan_rows {
            continue;
        }
        let rel = n.relation_name.as_deref().unwrap_or("the relation");
        let filter = n
            .filter
            .as_deref()
            .map(|f| {
                format!(" An index on the columns of {f} would avoid it if the query is selective.")
            })
            .unwrap_or_default();
        out.push(ctx.tip(
            ID,
            Severity::Info,
            r.id,
            format!(
                "a sequential scan {how} {} rows of {rel}: expected for reporting, costly for a \
                 hot query.{filter}",
                fmt::count(read.round())
            ),
        ));
    }
    out
}
