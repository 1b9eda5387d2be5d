-- name: patient_upcoming
-- summary: A patient's next booked appointments (the patient portal's "upcoming" list).
-- params: patient_id, now, tenant_id <- SELECT a.patient_id, a.scheduled_at - interval '1 day', a.tenant_id
--     FROM appointment a
--     WHERE a.status = 'booked'
--     ORDER BY a.patient_id, a.scheduled_at LIMIT 1
-- sample: SELECT patient_id, first_at - interval '1 day', tenant_id FROM (
--       SELECT a.patient_id, a.tenant_id, min(a.scheduled_at) AS first_at
--         FROM appointment a WHERE a.status = 'booked' GROUP BY a.patient_id, a.tenant_id) s
--     ORDER BY md5(patient_id::text) LIMIT 200
-- tenant: SELECT $3::uuid
-- expect: index-access appointment using appointment_patient_time_idx
-- expect: no seq-scan
-- expect: partitions appointment <= 7
-- expect: rows <= 20
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: A patient has a handful of future appointments: with the values known (custom plan) the planner
-- note: fetches them by bitmap scans of the future partitions and sorts a few rows; the generic plan walks
-- note: the index in order under a Merge Append. Both read through the patient timeline index.
-- note: `tenant_id = $3` routes the query to the tenant's shard on Citus (router, one task): the application knows
-- note: its tenant, and row-level security adds its tenant qual only as a filter, which Citus cannot route on.
SELECT a.id, a.scheduled_at, a.duration_min, a.provider_id
  FROM appointment a
 WHERE a.patient_id = $1
   AND a.tenant_id = $3
   AND a.scheduled_at >= $2::timestamptz
   AND a.status = 'booked'
 ORDER BY a.scheduled_at
 LIMIT 20;
