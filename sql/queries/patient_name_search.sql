-- name: patient_name_search
-- summary: Live patients of a tenant whose name contains the typed text (search box), first 20 by name.
-- params: tenant_id, fragment <- SELECT tenant_id, lower(left(family_name, 4)) FROM patient
--     WHERE deleted_at IS NULL ORDER BY id LIMIT 1
-- sample: SELECT tenant_id, lower(left(family_name, 4)) FROM patient
--     WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT 200
-- tenant: SELECT $1::uuid
-- expect: rows <= 20
-- expect: shared-buffers <= 300
-- expect-citus: router
-- expect-citus: tasks = 1
-- note: As the application (row-level security on) the trigram index cannot serve this search: ILIKE (texticlike) is
-- note: not LEAKPROOF, and PostgreSQL never evaluates a non-leakproof qual, not even as an index condition, before
-- note: the policy's qual. (Declaring it leakproof would be false: its errors depend on the pattern argument, which a
-- note: query may take from a hidden row.) So the search reads every live patient of the tenant, found through the
-- note: tenant's index (patient_tenant_id_key or patient_live_mrn_key; clinic 1: 113 buffers, 2.9 ms) or, when one
-- note: tenant holds half the table (clinic 0.1: two tenants), a Seq Scan. The expectations were `bitmap-scan patient
-- note: using patient_name_trgm_idx` and `no seq-scan`, which hold only with RLS bypassed (`--as-owner`: 100 buffers).
-- note: What still holds: one page of results and a bounded read (a tenant's patients, at most a few hundred pages).
SELECT p.id, p.mrn, p.given_name, p.family_name, p.birth_date
  FROM patient p
 WHERE p.tenant_id = $1
   AND p.deleted_at IS NULL
   AND (p.family_name || ' ' || p.given_name) ILIKE '%' || $2 || '%'
 ORDER BY p.family_name, p.given_name
 LIMIT 20;
