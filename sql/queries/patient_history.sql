-- name: patient_history
-- summary: One page of a patient's past appointments, newest first, with keyset pagination.
-- params: patient_id, before_at, before_id <- SELECT a.patient_id, a.scheduled_at, a.id
--     FROM appointment a
--     WHERE a.patient_id = (SELECT patient_id FROM appointment GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
--       AND a.status <> 'booked'
--     ORDER BY a.scheduled_at DESC, a.id DESC OFFSET 4 LIMIT 1
-- (The sample's cursor is each patient's 5th newest past appointment, so a page has rows before it.)
-- sample: SELECT patient_id, scheduled_at, id FROM (
--       SELECT a.patient_id, a.scheduled_at, a.id,
--              row_number() OVER (PARTITION BY a.patient_id ORDER BY a.scheduled_at DESC, a.id DESC) AS rn
--         FROM appointment a WHERE a.status <> 'booked') s
--     WHERE rn = 5 ORDER BY md5(patient_id::text) LIMIT 200
-- tenant: SELECT tenant_id FROM patient WHERE id = $1
-- expect: index-access appointment using appointment_patient_time_idx
-- expect-generic: index-scan appointment using appointment_patient_time_idx
-- expect-generic: no sort
-- note: The custom plan is held to index-access, not to index-scan and no sort: when the patient's rows before the cursor
-- note: are only about twice the page (tiny, seed 26: 47 rows in 3 partitions for a page of 20), reading them all through
-- note: the same index as bitmap scans and sorting 47 rows is rightly estimated cheaper than merging three ordered index
-- note: scans. The generic plan, which the prepared statement keeps once cached, must still read the page in index order.
-- expect: no seq-scan
-- expect: rows <= 20
-- note: The row comparison drives the index (keyset); the redundant `scheduled_at <= $2` lets the planner
-- note: prune the partitions after the cursor, which a row comparison alone cannot.
SELECT a.id, a.scheduled_at, a.duration_min, a.provider_id, a.status
  FROM appointment a
 WHERE a.patient_id = $1
   AND (a.scheduled_at, a.id) < ($2::timestamptz, $3::uuid)
   AND a.scheduled_at <= $2::timestamptz
 ORDER BY a.scheduled_at DESC, a.id DESC
 LIMIT 20;
