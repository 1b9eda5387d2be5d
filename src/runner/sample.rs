//! Deterministic parameter samples for the built-in queries: many parameter sets per query, so that a
//! benchmark rotating over them measures the query, not one cached row.
//!
//! Each sample SQL returns the query's parameters (columns in `params:` order) for up to
//! [`SAMPLE_SIZE`] rows spread over the data, ordered by an md5 of the row's identity. md5 of ids the
//! generator derived from the seed is the same on every machine, and nothing depends on the session
//! time zone (days are hashed as epoch seconds), so the same dataset always gives the same sample.
//!
//! These belong next to each query's `params:` header; until the catalog parses a
//! `-- sample: SELECT ...` header they live here, keyed by query name, for the built-in queries only.
//! A query without a sample (a user's `--queries` folder) falls back to its single `params:` row.

use crate::catalog::Query;

/// Parameter sets per query the benchmarks and `compare` rotate over.
pub const SAMPLE_SIZE: usize = 200;

const PROVIDER_DAY: &str = "SELECT provider_id, day FROM (
    SELECT DISTINCT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC') AS day
      FROM appointment a JOIN provider p ON p.id = a.provider_id
     WHERE p.deleted_at IS NULL AND a.status = 'booked') s
  ORDER BY md5(provider_id::text || extract(epoch FROM day)::bigint::text)
  LIMIT 200";

/// The sample SQL of a built-in query, by name.
pub fn builtin_sample_sql(name: &str) -> Option<&'static str> {
    Some(match name {
        "provider_day" | "provider_free_slots" | "provider_no_show_rate" => PROVIDER_DAY,
        "booking_conflict" => {
            "SELECT a.provider_id, a.scheduled_at + interval '10 minutes', 30
               FROM appointment a WHERE a.status = 'booked'
              ORDER BY md5(a.id::text) LIMIT 200"
        }
        "patient_by_mrn" => {
            "SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 200"
        }
        "patient_history" => {
            // The cursor is a patient's 5th newest past appointment, so a page has rows before it.
            "SELECT patient_id, scheduled_at, id FROM (
                 SELECT a.patient_id, a.scheduled_at, a.id,
                        row_number() OVER (PARTITION BY a.patient_id ORDER BY a.scheduled_at DESC, a.id DESC) AS rn
                   FROM appointment a WHERE a.status <> 'booked') s
              WHERE rn = 5 ORDER BY md5(patient_id::text) LIMIT 200"
        }
        "patient_name_search" => {
            "SELECT tenant_id, lower(left(family_name, 4)) FROM patient
              WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 200"
        }
        "patient_upcoming" => {
            "SELECT patient_id, first_at - interval '1 day' FROM (
                 SELECT a.patient_id, min(a.scheduled_at) AS first_at
                   FROM appointment a WHERE a.status = 'booked' GROUP BY a.patient_id) s
              ORDER BY md5(patient_id::text) LIMIT 200"
        }
        "tenant_day_by_status" => {
            "SELECT tenant_id, day FROM (
                 SELECT DISTINCT a.tenant_id, date_trunc('day', a.scheduled_at, 'UTC') AS day
                   FROM appointment a WHERE a.status = 'booked') s
              ORDER BY md5(tenant_id::text || extract(epoch FROM day)::bigint::text) LIMIT 200"
        }
        "appointment_audit_trail" => {
            "SELECT appointment_id FROM (
                 SELECT DISTINCT appointment_id FROM appointment_audit WHERE operation = 'UPDATE') s
              ORDER BY md5(appointment_id::text) LIMIT 200"
        }
        _ => return None,
    })
}

/// The sample SQL of a query: for one of the shipped queries, its built-in sample.
pub fn sample_sql(query: &Query) -> Option<&'static str> {
    builtin_sample_sql(&query.name).filter(|_| query.path.starts_with("sql/queries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_query_has_a_sample_with_its_parameter_count() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        for q in &catalog.queries {
            let sql =
                builtin_sample_sql(&q.name).unwrap_or_else(|| panic!("{} has no sample", q.name));
            // The select list of the outermost SELECT has one column per parameter.
            let outer = sql.split(" FROM").next().unwrap();
            let mut depth = 0i32;
            let mut columns = 1;
            for c in outer.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => columns += 1,
                    _ => {}
                }
            }
            assert_eq!(columns, q.params.len(), "{}: {outer}", q.name);
            assert!(
                sql.contains("ORDER BY md5("),
                "{}: deterministic order",
                q.name
            );
        }
    }
}
