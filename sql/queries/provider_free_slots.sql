-- name: provider_free_slots
-- summary: The free gaps of at least 15 minutes in a provider's working day (08:00-18:00 from the day's start).
-- params: provider_id, day <- SELECT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC')
--     FROM appointment a
--     WHERE a.provider_id = (SELECT id FROM provider WHERE deleted_at IS NULL ORDER BY id LIMIT 1)
--       AND a.status = 'booked'
--     ORDER BY a.scheduled_at LIMIT 1
-- sample: SELECT provider_id, day FROM (
--       SELECT DISTINCT a.provider_id, date_trunc('day', a.scheduled_at, 'UTC') AS day
--         FROM appointment a JOIN provider p ON p.id = a.provider_id
--        WHERE p.deleted_at IS NULL AND a.status = 'booked') s
--     ORDER BY md5(provider_id::text || extract(epoch FROM day)::bigint::text)
--     LIMIT 200
-- tenant: SELECT tenant_id FROM provider WHERE id = $1
-- expect: index-only-scan appointment using appointment_provider_day_idx
-- expect: heap-fetches = 0
-- expect: partitions appointment = 1
-- note: Multirange arithmetic (PostgreSQL 14+): the working day minus the booked slots.
SELECT lower(f) AS free_from, upper(f) AS free_until
  FROM unnest(
         tstzmultirange(tstzrange($2::timestamptz + interval '8 hours', $2::timestamptz + interval '18 hours'))
         - (SELECT coalesce(range_agg(appointment_slot(a.scheduled_at, a.duration_min)), '{}'::tstzmultirange)
              FROM appointment a
             WHERE a.provider_id = $1
               AND a.scheduled_at >= $2::timestamptz
               AND a.scheduled_at <  $2::timestamptz + interval '1 day'
               AND a.status <> 'cancelled')
       ) AS f
 WHERE upper(f) - lower(f) >= interval '15 minutes'
 ORDER BY 1;
