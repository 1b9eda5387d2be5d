-- name: appointment_audit_trail
-- summary: Everything that happened to one appointment, oldest first (who changed what, when).
-- params: appointment_id <- SELECT appointment_id FROM appointment_audit WHERE operation = 'UPDATE'
--     ORDER BY appointment_id LIMIT 1
-- sample: SELECT appointment_id FROM (
--       SELECT DISTINCT appointment_id FROM appointment_audit WHERE operation = 'UPDATE') s
--     ORDER BY md5(appointment_id::text) LIMIT 200
-- tenant: SELECT tenant_id FROM appointment_audit WHERE appointment_id = $1 LIMIT 1
-- expect: index-access appointment_audit using appointment_audit_appointment_idx
-- expect: no seq-scan
-- expect: rows >= 2
-- expect: shared-buffers <= 16
-- note: A trail has a handful of rows: the planner may read them with a bitmap scan and sort them, or
-- note: with an index scan in index order; both read a few pages through the audit index.
SELECT au.changed_at, au.operation, au.actor,
       au.old_row ->> 'status' AS old_status,
       au.new_row ->> 'status' AS new_status
  FROM appointment_audit au
 WHERE au.appointment_id = $1
 ORDER BY au.changed_at;
