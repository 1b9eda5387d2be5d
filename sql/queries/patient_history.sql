-- name: patient_history
-- summary: One page of a patient's past appointments, newest first, with keyset pagination.
-- params: patient_id, before_at, before_id, tenant_id <- SELECT a.patient_id, a.scheduled_at, a.id, a.tenant_id
--     FROM appointment a
--     WHERE a.patient_id = (SELECT patient_id FROM appointment GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
--       AND a.status <> 'booked'
--     ORDER BY a.scheduled_at DESC, a.id DESC OFFSET 4 LIMIT 1
-- (The sample's cursor is each patient's 5th newest past appointment, so a page has rows before it.)
-- sample: SELECT patient_id, scheduled_at, id, tenant_id FROM (
--       SELECT a.patient_id, a.scheduled_at, a.id, a.tenant_id,
--              row_number() OVER (PARTITION BY a.patient_id ORDER BY a.scheduled_at DESC, a.id DESC) AS rn
--         FROM appointment a WHERE a.status <> 'booked') s
--     WHERE rn = 5 ORDER BY md5(patient_id::text) LIMIT 200
-- tenant: SELECT $4::uuid
-- expect: index-access appointment using appointment_patient_time_idx
-- expect: no seq-scan
-- expect: rows <= 20
-- expect-single-node-generic: index-scan appointment using appointment_patient_time_idx
-- expect-single-node-generic: no sort
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: A real patient's history is short per month (at most 3 a week, issue 11): with the cursor known
-- note: (custom plan) on small partitions (`tiny`: a dozen of the patient's rows in a 15-page leaf) the
-- note: planner rightly fetches them by bitmap scans and sorts two dozen rows; at clinic scale 1 the
-- note: custom plan walks the index too. The prepared statement (generic plan) always walks it in order.
-- note: The same holds for few rows before the cursor in general (tiny, seed 26 before issue 11: 47 rows in
-- note: 3 partitions for a page of 20), so the custom plan is held to index-access on the same index.
-- note: The row comparison drives the index (keyset); the redundant `scheduled_at <= $2` lets the planner
-- note: prune the partitions after the cursor, which a row comparison alone cannot.
-- note: On Citus the generic plan's task is planned by the worker with the values substituted (Citus defers
-- note: pruning to execution), so the shard plan is the custom one: the two generic-plan lines are single-node.
-- note: tenant_id = $4 routes it to the tenant's shard (one task); the application knows its tenant.
SELECT a.id, a.scheduled_at, a.duration_min, a.provider_id, a.status
  FROM appointment a
 WHERE a.patient_id = $1
   AND a.tenant_id = $4
   AND (a.scheduled_at, a.id) < ($2::timestamptz, $3::uuid)
   AND a.scheduled_at <= $2::timestamptz
 ORDER BY a.scheduled_at DESC, a.id DESC
 LIMIT 20;
