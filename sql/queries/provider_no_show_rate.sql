-- name: provider_no_show_rate
-- summary: A provider's no-show rate over the 90 days before a date (reporting).
-- params: provider_id, until, tenant_id <- SELECT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC'), a.tenant_id
--     FROM appointment a
--     WHERE a.provider_id = (SELECT id FROM provider WHERE deleted_at IS NULL ORDER BY id LIMIT 1)
--       AND a.status = 'booked'
--     ORDER BY a.scheduled_at LIMIT 1
-- sample: SELECT provider_id, day, tenant_id FROM (
--       SELECT DISTINCT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC') AS day, a.tenant_id
--         FROM appointment a JOIN provider p ON p.tenant_id = a.tenant_id AND p.id = a.provider_id
--        WHERE p.deleted_at IS NULL AND a.status = 'booked') s
--     ORDER BY md5(provider_id::text || extract(epoch FROM day)::bigint::text)
--     LIMIT 200
-- tenant: SELECT $3::uuid
-- expect-single-node: index-only-scan appointment using appointment_provider_day_idx
-- expect: heap-fetches = 0
-- expect: partitions appointment <= 4
-- expect: rows = 1
-- expect-citus: router
-- expect-citus: tasks = 1
-- expect-citus: aggregate-pushdown
-- note: `tenant_id = $3` routes the query to the tenant's shard on Citus (router, one task): the application knows
-- note: its tenant, and row-level security adds its tenant qual only as a filter, which Citus cannot route on.
-- note: On Citus at `tiny` a month's shard holds little more than this provider's rows, so the worker rightly
-- note: reads it by Seq Scan (7 pages): the index-only scan is a single-node line there.
SELECT count(*) FILTER (WHERE a.status = 'no_show') AS no_shows,
       count(*) FILTER (WHERE a.status IN ('completed', 'no_show')) AS attended_or_missed,
       round(count(*) FILTER (WHERE a.status = 'no_show')::numeric
             / nullif(count(*) FILTER (WHERE a.status IN ('completed', 'no_show')), 0), 4) AS no_show_rate
  FROM appointment a
 WHERE a.provider_id = $1
   AND a.tenant_id = $3
   AND a.scheduled_at >= $2::timestamptz - interval '90 days'
   AND a.scheduled_at <  $2::timestamptz
   AND a.status <> 'cancelled';
