-- name: tenant_day_by_status
-- summary: A tenant's schedule for one day summarised by status: appointments and booked minutes.
-- params: tenant_id, day <- SELECT a.tenant_id, date_trunc('day', a.scheduled_at, 'UTC')
--     FROM appointment a
--     WHERE a.tenant_id = (SELECT id FROM tenant ORDER BY id LIMIT 1)
--       AND a.status = 'booked'
--     ORDER BY a.scheduled_at LIMIT 1
-- sample: SELECT tenant_id, day FROM (
--       SELECT DISTINCT a.tenant_id, date_trunc('day', a.scheduled_at, 'UTC') AS day
--         FROM appointment a WHERE a.status = 'booked') s
--     ORDER BY md5(tenant_id::text || extract(epoch FROM day)::bigint::text) LIMIT 200
-- tenant: SELECT $1::uuid
-- expect: index-only-scan appointment using appointment_tenant_day_idx
-- expect: heap-fetches = 0
-- expect: partitions appointment = 1
-- expect: no spill
-- expect-citus: router
-- expect-citus: tasks = 1
-- expect-citus: aggregate-pushdown
SELECT a.status, count(*) AS appointments, sum(a.duration_min) AS minutes
  FROM appointment a
 WHERE a.tenant_id = $1
   AND a.scheduled_at >= $2::timestamptz
   AND a.scheduled_at <  $2::timestamptz + interval '1 day'
 GROUP BY a.status
 ORDER BY a.status;
