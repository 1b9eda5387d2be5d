-- Reverts 0004: the policies as 0001 wrote them (app_tenant_id() evaluated per row).

ALTER POLICY tenant_isolation ON tenant USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());
ALTER POLICY tenant_isolation ON provider USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON patient USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON appointment USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON appointment_audit USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
