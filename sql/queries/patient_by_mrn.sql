-- name: patient_by_mrn
-- summary: The live patient with this medical record number at this tenant (front-desk lookup).
-- params: tenant_id, mrn <- SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL ORDER BY id LIMIT 1
-- sample: SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL
--     ORDER BY md5(id::text) LIMIT 200
-- tenant: SELECT $1::uuid
-- expect: index-access patient using patient_live_mrn_key
-- note: index-access, not index-scan: for one row of an estimated one or two the planner picks an Index Scan or a Bitmap Heap Scan on the same unique index depending on the seed's statistics (tiny, seed 102: bitmap); the index and a handful of buffers hold for every seed.
-- expect: rows = 1
-- expect: shared-buffers <= 8
-- expect-citus: router
-- expect-citus: tasks = 1
SELECT p.id, p.given_name, p.family_name, p.birth_date
  FROM patient p
 WHERE p.tenant_id = $1
   AND p.mrn = $2
   AND p.deleted_at IS NULL;
