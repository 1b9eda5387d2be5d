-- name: patient_name_search
-- summary: Live patients of a tenant whose name contains the typed text (search box), first 20 by name.
-- params: tenant_id, fragment <- SELECT tenant_id, lower(left(family_name, 4)) FROM patient
--     WHERE deleted_at IS NULL ORDER BY id LIMIT 1
-- sample: SELECT tenant_id, lower(left(family_name, 4)) FROM patient
--     WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 200
-- expect: bitmap-scan patient using patient_name_trgm_idx
-- expect: no seq-scan
-- expect: rows <= 20
SELECT p.id, p.mrn, p.given_name, p.family_name, p.birth_date
  FROM patient p
 WHERE p.tenant_id = $1
   AND p.deleted_at IS NULL
   AND (p.family_name || ' ' || p.given_name) ILIKE '%' || $2 || '%'
 ORDER BY p.family_name, p.given_name
 LIMIT 20;
