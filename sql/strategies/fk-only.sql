-- Strategy `fk-only`: what an ORM-generated schema usually has: an index per foreign key, nothing else.
--
-- The baseline a tuned design must beat. Every hot query still finds *an* index for its leading
-- equality (provider, patient, appointment), but none covers what the query reads, so there are no
-- index-only scans, and the trigram search has nothing to use.

CREATE INDEX appointment_tenant_provider_fk_idx
    ON appointment (tenant_id, provider_id);

CREATE INDEX appointment_tenant_patient_fk_idx
    ON appointment (tenant_id, patient_id);

CREATE INDEX appointment_audit_appointment_fk_idx
    ON appointment_audit (appointment_id);
