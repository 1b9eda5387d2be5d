-- Strategy `tuned-no-include`: the `tuned` set, but the day-view index is a plain, full btree on
-- (provider_id, scheduled_at): no INCLUDE columns and no partial predicate.
--
-- What the covering partial index buys: without it the day view, free slots and no-show rate read the
-- heap for every row (index scans instead of index-only scans), and the index also carries the
-- cancelled appointments that no calendar shows.

CREATE INDEX appointment_provider_day_plain_idx
    ON appointment (provider_id, scheduled_at);

CREATE INDEX appointment_patient_time_idx
    ON appointment (patient_id, scheduled_at, id);

CREATE INDEX appointment_tenant_day_idx
    ON appointment (tenant_id, scheduled_at)
    INCLUDE (status, duration_min);

CREATE INDEX patient_name_trgm_idx
    ON patient USING gin ((family_name || ' ' || given_name) gin_trgm_ops);

CREATE INDEX appointment_audit_appointment_idx
    ON appointment_audit (appointment_id, changed_at);
