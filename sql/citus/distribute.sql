-- Citus: the appointment model distributed by tenant. Run by qcheck (src/topology.rs) after the
-- migrations, in one transaction, on a database with the citus extension; never on plain PostgreSQL.
-- squawk-ignore-file ban-drop-constraint, adding-serial-primary-key-field, adding-foreign-key-constraint, constraint-missing-not-valid
-- (squawk lints this file in .ci/run. The four rules guard a live table's writers from long locks and
-- scans; this step rewrites the keys of empty tables in one transaction: it drops the single-node keys
-- to add their tenant-leading form in the same transaction, and a scan of an empty table is instant,
-- while NOT VALID + VALIDATE would need a second transaction the step does not have.)
--
-- Citus requires the distribution column in every primary key, unique index and exclusion constraint
-- (a shard can only check uniqueness among its own rows). The single-node keys lead with id; here they
-- lead with tenant_id, and the unique/primary index names stay as the queries' expectations know them.
-- The tables are empty when this runs (qcheck migrates before it seeds), so every change is instant.
--
--   tenant                      reference table (a copy on every node: every tenant-owned row's FK target)
--   provider, patient           distributed by tenant_id, PRIMARY KEY (tenant_id, id)
--   appointment                 distributed by tenant_id, PRIMARY KEY (tenant_id, id, scheduled_at),
--                               each month partition EXCLUDE (tenant_id =, provider_id =, slot &&)
--   appointment_audit           distributed by tenant_id, PRIMARY KEY (tenant_id, id)
--   appointment_boundary_slot   distributed by tenant_id, EXCLUDE (tenant_id =, provider_id =, slot &&)
--
-- All five tenant-owned tables are colocated: a tenant's rows of every table live on one worker, so
-- composite foreign keys, the triggers that write the audit trail and the boundary table, and a
-- tenant's joins stay on that worker. Adding tenant_id to the exclusion constraints changes nothing:
-- a provider belongs to one tenant (composite FK), so two rows with one provider_id have one tenant_id.

-- Foreign keys go first: a table with a foreign key to a reference table would become a Citus local
-- table, which cannot then be distributed. They come back, unchanged, once every table is distributed.
ALTER TABLE appointment DROP CONSTRAINT appointment_provider_fk, DROP CONSTRAINT appointment_patient_fk;
ALTER TABLE provider DROP CONSTRAINT provider_tenant_id_fkey;
ALTER TABLE patient DROP CONSTRAINT patient_tenant_id_fkey;

-- The same-tenant unique key becomes the primary key (one index instead of two); its name stays.
ALTER TABLE provider DROP CONSTRAINT provider_pkey, DROP CONSTRAINT provider_tenant_id_key;
ALTER TABLE provider ADD CONSTRAINT provider_tenant_id_key PRIMARY KEY (tenant_id, id);
ALTER TABLE patient DROP CONSTRAINT patient_pkey, DROP CONSTRAINT patient_tenant_id_key;
ALTER TABLE patient ADD CONSTRAINT patient_tenant_id_key PRIMARY KEY (tenant_id, id);
ALTER TABLE appointment DROP CONSTRAINT appointment_pkey;
ALTER TABLE appointment ADD CONSTRAINT appointment_pkey PRIMARY KEY (tenant_id, id, scheduled_at);
ALTER TABLE appointment_audit DROP CONSTRAINT appointment_audit_pkey;
ALTER TABLE appointment_audit ADD CONSTRAINT appointment_audit_pkey PRIMARY KEY (tenant_id, id);
ALTER TABLE appointment_boundary_slot
    DROP CONSTRAINT appointment_boundary_slot_pkey,
    DROP CONSTRAINT appointment_no_overlap_across_months;
ALTER TABLE appointment_boundary_slot
    ADD CONSTRAINT appointment_boundary_slot_pkey PRIMARY KEY (tenant_id, appointment_id, scheduled_at),
    ADD CONSTRAINT appointment_no_overlap_across_months
        EXCLUDE USING gist (tenant_id WITH =, provider_id WITH =, slot WITH &&);

-- Existing month partitions (none when qcheck migrates a new database) get the tenant-leading guard.
DO $$
DECLARE
    leaf regclass;
BEGIN
    FOR leaf IN SELECT t.relid FROM pg_partition_tree('appointment') t WHERE t.isleaf LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', leaf,
                       (SELECT relname FROM pg_class WHERE oid = leaf) || '_no_overlap');
    END LOOP;
END
$$;

-- Citus refuses a subquery in a distributed table's policy, so the policies go back to 0001's form
-- (`app_tenant_id()` per row, not 0004's once-per-statement `(SELECT app_tenant_id())`): on Citus the
-- tenant filter is pushed into each shard query anyway.
ALTER POLICY tenant_isolation ON tenant
    USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());
ALTER POLICY tenant_isolation ON provider
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON patient
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON appointment
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
ALTER POLICY tenant_isolation ON appointment_audit
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

SELECT create_reference_table('tenant');
SELECT create_distributed_table('provider', 'tenant_id');
SELECT create_distributed_table('patient', 'tenant_id', colocate_with => 'provider');
SELECT create_distributed_table('appointment', 'tenant_id', colocate_with => 'provider');
SELECT create_distributed_table('appointment_audit', 'tenant_id', colocate_with => 'provider');
SELECT create_distributed_table('appointment_boundary_slot', 'tenant_id', colocate_with => 'provider');

ALTER TABLE provider ADD CONSTRAINT provider_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenant (id);
ALTER TABLE patient ADD CONSTRAINT patient_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenant (id);
ALTER TABLE appointment ADD CONSTRAINT appointment_provider_fk FOREIGN KEY (tenant_id, provider_id) REFERENCES provider (tenant_id, id);
ALTER TABLE appointment ADD CONSTRAINT appointment_patient_fk FOREIGN KEY (tenant_id, patient_id) REFERENCES patient (tenant_id, id);

-- qcheck: functions
-- Applied after every migrate up (idempotent): a migration's CREATE OR REPLACE would bring back the
-- single-node form.

-- The month partitions' guard leads with tenant_id (Citus requires it; see above).
CREATE OR REPLACE FUNCTION add_appointment_partition_exclusion(part regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = part);
BEGIN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I EXCLUDE USING gist (tenant_id WITH =, provider_id WITH =, slot WITH &&) WHERE (status <> %L)',
                   part, name || '_no_overlap', 'cancelled');
END
$$;

CREATE OR REPLACE FUNCTION appointment_partition_guarded(leaf regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_constraint c
         WHERE c.conrelid = leaf AND c.contype = 'x'
           AND pg_get_constraintdef(c.oid)
               = 'EXCLUDE USING gist (tenant_id WITH =, provider_id WITH =, slot WITH &&) WHERE ((status <> ''cancelled''::appointment_status))')
$$;

-- As 0003's, plus sequential mode: a new partition of appointment is a new shard group on every
-- worker, and Citus refuses parallel DDL on a table with a foreign key to a reference table once the
-- transaction has touched that reference table (creating two months in one call does).
CREATE OR REPLACE FUNCTION create_appointment_partition(month date, with_exclusion boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo    timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    hi    timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part  text        := format('appointment_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
    guard text        := coalesce(current_setting('appointment.partition_guard', true), '');
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
        PERFORM set_config('appointment.partition_guard', 'deferred', true);
        EXECUTE format('CREATE TABLE %I PARTITION OF appointment FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        IF with_exclusion THEN
            PERFORM add_appointment_partition_exclusion(part::regclass);
        END IF;
        PERFORM set_config('appointment.partition_guard', guard, true);
    END IF;
    RETURN part;
END
$$;

-- The triggers run on a worker, inside the shard's statement. A statement there on a distributed
-- table must name its tenant: then it is a router statement on the colocated shard of the same
-- worker (local execution); without tenant_id Citus would have to fan out from inside a shard, which
-- it refuses ("cannot execute a distributed query from a query on a shard"). Both functions are 0003's
-- and 0001's with `tenant_id = OLD.tenant_id` added to the one statement that lacked it.
CREATE OR REPLACE FUNCTION appointment_audit_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('app.actor', true), ''), session_user);
    moved jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF current_setting('appointment.moved_id', true) = NEW.id::text THEN
            PERFORM set_config('appointment.moved_id', '', false);
            RETURN NULL;
        END IF;
        INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, session_role, old_row, new_row)
        VALUES (NEW.tenant_id, NEW.id, TG_OP, who, session_user, NULL, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, session_role, old_row, new_row)
        VALUES (NEW.tenant_id, NEW.id, TG_OP, who, session_user, to_jsonb(OLD), to_jsonb(NEW));
    ELSE
        SELECT to_jsonb(a) INTO moved FROM appointment a
         WHERE a.tenant_id = OLD.tenant_id AND a.id = OLD.id AND a.scheduled_at <> OLD.scheduled_at;
        IF moved IS NOT NULL THEN
            INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, session_role, old_row, new_row)
            VALUES (OLD.tenant_id, OLD.id, 'UPDATE', who, session_user, to_jsonb(OLD), moved);
            PERFORM set_config('appointment.moved_id', OLD.id::text, false);
        ELSE
            INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, session_role, old_row, new_row)
            VALUES (OLD.tenant_id, OLD.id, TG_OP, who, session_user, to_jsonb(OLD), NULL);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION appointment_audit_write() SECURITY DEFINER SET search_path = public, pg_temp;

CREATE OR REPLACE FUNCTION appointment_boundary_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM appointment_boundary_slot
         WHERE tenant_id = OLD.tenant_id AND appointment_id = OLD.id AND scheduled_at = OLD.scheduled_at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'cancelled' AND appointment_near_boundary(NEW.slot) THEN
        INSERT INTO appointment_boundary_slot (appointment_id, scheduled_at, tenant_id, provider_id, slot)
        VALUES (NEW.id, NEW.scheduled_at, NEW.tenant_id, NEW.provider_id, NEW.slot);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION appointment_boundary_sync() SECURITY DEFINER SET search_path = public, pg_temp;
