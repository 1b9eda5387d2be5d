-- name: patient_upcoming
-- summary: A patient's next booked appointments (the patient portal's "upcoming" list).
-- params: patient_id, now <- SELECT a.patient_id, a.scheduled_at - interval '1 day'
--     FROM appointment a
--     WHERE a.status = 'booked'
--     ORDER BY a.patient_id, a.scheduled_at LIMIT 1
-- expect: index-scan appointment using appointment_patient_time_idx
-- expect: no sort
-- expect: no seq-scan
-- expect: rows <= 20
SELECT a.id, a.scheduled_at, a.duration_min, a.provider_id
  FROM appointment a
 WHERE a.patient_id = $1
   AND a.scheduled_at >= $2::timestamptz
   AND a.status = 'booked'
 ORDER BY a.scheduled_at
 LIMIT 20;
