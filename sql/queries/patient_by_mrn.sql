-- name: patient_by_mrn
-- summary: The live patient with this medical record number at this tenant (front-desk lookup).
-- params: tenant_id, mrn <- SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL ORDER BY id LIMIT 1
-- sample: SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL
--     ORDER BY md5(id::text) LIMIT 200
-- expect: index-scan patient using patient_live_mrn_key
-- expect: rows = 1
-- expect: shared-buffers <= 8
SELECT p.id, p.given_name, p.family_name, p.birth_date
  FROM patient p
 WHERE p.tenant_id = $1
   AND p.mrn = $2
   AND p.deleted_at IS NULL;
