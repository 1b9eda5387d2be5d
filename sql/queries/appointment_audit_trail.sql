-- name: appointment_audit_trail
-- summary: Everything that happened to one appointment, oldest first (who changed what, when).
-- params: appointment_id, tenant_id <- SELECT appointment_id, tenant_id FROM appointment_audit WHERE operation = 'UPDATE'
--     ORDER BY appointment_id LIMIT 1
-- sample: SELECT appointment_id, tenant_id FROM (
--       SELECT DISTINCT appointment_id, tenant_id FROM appointment_audit WHERE operation = 'UPDATE') s
--     ORDER BY md5(appointment_id::text) LIMIT 200
-- tenant: SELECT $2::uuid
-- expect-single-node: index-access appointment_audit using appointment_audit_appointment_idx
-- expect-single-node: no seq-scan
-- expect: rows >= 2
-- expect: shared-buffers <= 16
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: A trail has a handful of rows: the planner may read them with a bitmap scan and sort them, or
-- note: with an index scan in index order; both read a few pages through the audit index.
-- note: On Citus at `tiny` the tenant's audit shard is a few pages (8 at seed 4242), which the worker may read
-- note: by Seq Scan or through the index depending on its statistics: the scan lines are single-node, the
-- note: buffer bound holds on both.
-- note: `tenant_id = $2` routes the query to the tenant's shard on Citus (router, one task): the application knows
-- note: its tenant, and row-level security adds its tenant qual only as a filter, which Citus cannot route on.
SELECT au.changed_at, au.operation, au.actor,
       au.old_row ->> 'status' AS old_status,
       au.new_row ->> 'status' AS new_status
  FROM appointment_audit au
 WHERE au.appointment_id = $1
   AND au.tenant_id = $2
 ORDER BY au.changed_at;
