-- name: provider_free_slots
-- summary: The free gaps of at least 15 minutes in a provider's working day (08:00-18:00 from the day's start).
-- params: provider_id, day, tenant_id <- SELECT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC'), a.tenant_id
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
-- expect: index-only-scan appointment using appointment_provider_day_idx
-- expect: heap-fetches = 0
-- expect: partitions appointment = 1
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: Multirange arithmetic (PostgreSQL 14+): the working day minus the booked slots.
-- note: `tenant_id = $3` routes the query to the tenant's shard on Citus (router, one task): the application knows
-- note: its tenant, and row-level security adds its tenant qual only as a filter, which Citus cannot route on.
-- note: Citus refuses the generic plan of its subquery (`could not create distributed plan`) and keeps the
-- note: prepared statement on custom plans: qcheck reports the generic plan exempt on Citus, saying so.
SELECT lower(f) AS free_from, upper(f) AS free_until
  FROM unnest(
         tstzmultirange(tstzrange($2::timestamptz + interval '8 hours', $2::timestamptz + interval '18 hours'))
         - (SELECT coalesce(range_agg(appointment_slot(a.scheduled_at, a.duration_min)), '{}'::tstzmultirange)
              FROM appointment a
             WHERE a.provider_id = $1
               AND a.tenant_id = $3
               AND a.scheduled_at >= $2::timestamptz
               AND a.scheduled_at <  $2::timestamptz + interval '1 day'
               AND a.status <> 'cancelled')
       ) AS f
 WHERE upper(f) - lower(f) >= interval '15 minutes'
 ORDER BY 1;
