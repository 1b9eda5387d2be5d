-- name: booking_conflict
-- summary: Does the provider already have a live appointment overlapping the requested slot? (checked before booking)
-- params: provider_id, start_at, minutes, tenant_id <- SELECT a.provider_id, a.scheduled_at + interval '10 minutes', 30, a.tenant_id
--     FROM appointment a
--     WHERE a.provider_id = (SELECT id FROM provider WHERE deleted_at IS NULL ORDER BY id LIMIT 1)
--       AND a.status = 'booked'
--     ORDER BY a.scheduled_at LIMIT 1
-- sample: SELECT a.provider_id, a.scheduled_at + interval '10 minutes', 30, a.tenant_id
--     FROM appointment a WHERE a.status = 'booked'
--     ORDER BY md5(a.id::text) LIMIT 200
-- tenant: SELECT $4::uuid
-- expect: no seq-scan
-- expect: partitions appointment <= 2
-- expect: rows >= 1
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: An appointment lasts at most 8 hours, so one that overlaps the slot starts at most 8 hours before
-- note: it: that bound lets the planner prune to the slot's month (two partitions near a boundary).
-- note: `tenant_id = $4` routes the query to the tenant's shard on Citus (router, one task): the application knows
-- note: its tenant, and row-level security adds its tenant qual only as a filter, which Citus cannot route on.
SELECT a.id, a.scheduled_at, a.duration_min
  FROM appointment a
 WHERE a.provider_id = $1
   AND a.tenant_id = $4
   AND a.slot && appointment_slot($2::timestamptz, $3::int)
   AND a.status <> 'cancelled'
   AND a.scheduled_at >  $2::timestamptz - interval '8 hours'
   AND a.scheduled_at <  $2::timestamptz + $3::int * interval '1 minute';
