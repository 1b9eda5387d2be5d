-- name: patient_upcoming
-- summary: A patient's next booked appointments (the patient portal's "upcoming" list).
-- params: patient_id, now <- SELECT a.patient_id, a.scheduled_at - interval '1 day'
--     FROM appointment a
--     WHERE a.status = 'booked'
--     ORDER BY a.patient_id, a.scheduled_at LIMIT 1
-- sample: SELECT patient_id, first_at - interval '1 day' FROM (
--       SELECT a.patient_id, min(a.scheduled_at) AS first_at
--         FROM appointment a WHERE a.status = 'booked' GROUP BY a.patient_id) s
--     ORDER BY md5(patient_id::text) LIMIT 200
-- tenant: SELECT tenant_id FROM patient WHERE id = $1
-- expect: index-access appointment using appointment_patient_time_idx
-- expect: no seq-scan
-- expect: partitions appointment <= 7
-- expect: rows <= 20
-- note: A patient has a handful of future appointments: with the values known (custom plan) the planner
-- note: fetches them by bitmap scans of the future partitions and sorts a few rows; the generic plan walks
-- note: the index in order under a Merge Append. Both read through the patient timeline index.
SELECT a.id, a.scheduled_at, a.duration_min, a.provider_id
  FROM appointment a
 WHERE a.patient_id = $1
   AND a.scheduled_at >= $2::timestamptz
   AND a.status = 'booked'
 ORDER BY a.scheduled_at
 LIMIT 20;
