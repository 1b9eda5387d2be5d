-- 0004: the tenant policies read app.tenant_id once per statement, not once per row.
--
-- 0001's policies compare tenant_id with app_tenant_id(), a STABLE SQL function that PostgreSQL
-- inlines as (NULLIF(current_setting('app.tenant_id', true), ''))::uuid. Where that qual is a Filter
-- (every row a provider's or patient's index scan returns), the executor evaluates it per row:
-- current_setting and a uuid parse for each one. Measured on clinic scale 1 as qcheck_app:
-- provider_no_show_rate (about 1,000 index entries) 1.0 ms, against 0.3 ms for the owner, who bypasses
-- RLS. Written as a scalar subquery, the value becomes an InitPlan computed once per execution and
-- the per-row qual is a plain uuid comparison with its result ($0): 0.3 ms, the owner's figure.
--
-- Nothing else changes: the same rows are visible (an unset or empty app.tenant_id is still NULL,
-- which matches no row), the qual is still an index condition wherever tenant_id leads an index
-- (a Param is as good as a constant there), and the policies stay keyed on app.tenant_id. No
-- function is declared LEAKPROOF: none needs to be, and current_setting is not ours to vouch for.
--
-- ALTER POLICY takes an ACCESS EXCLUSIVE lock on the table for an instant (catalog only, no scan).

-- On a Citus database whose tables are already distributed (a migrate down and up there), the policies
-- stay as 0001 wrote them: Citus refuses a subquery in a distributed table's policy, and pushes the
-- tenant filter into each shard query anyway (sql/citus/distribute.sql does the same).
DO $$
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'appointment'::regclass) THEN
            RETURN;
        END IF;
    END IF;
    ALTER POLICY tenant_isolation ON tenant
        USING (id = (SELECT app_tenant_id())) WITH CHECK (id = (SELECT app_tenant_id()));
    ALTER POLICY tenant_isolation ON provider
        USING (tenant_id = (SELECT app_tenant_id())) WITH CHECK (tenant_id = (SELECT app_tenant_id()));
    ALTER POLICY tenant_isolation ON patient
        USING (tenant_id = (SELECT app_tenant_id())) WITH CHECK (tenant_id = (SELECT app_tenant_id()));
    ALTER POLICY tenant_isolation ON appointment
        USING (tenant_id = (SELECT app_tenant_id())) WITH CHECK (tenant_id = (SELECT app_tenant_id()));
    ALTER POLICY tenant_isolation ON appointment_audit
        USING (tenant_id = (SELECT app_tenant_id())) WITH CHECK (tenant_id = (SELECT app_tenant_id()));
END
$$;
