-- 0001 appointment model: tenants, providers, patients, month-partitioned appointments,
-- the append-only audit trail and row-level security.
--
-- Conventions
--   * uuid keys. Every row carries tenant_id. Each tenant-owned table has `id` as its primary key and
--     a UNIQUE (tenant_id, id) that is the target of composite foreign keys, so a reference can only
--     point at a row of the same tenant.
--   * Time is timestamptz (UTC inside). Appointments carry their own duration in minutes.
--   * Every domain rule that fits a CHECK is a CHECK.
--   * The application sets `app.tenant_id` (and optionally `app.actor`) per session or transaction;
--     row-level security keys on it.
--   * Secondary indexes that only serve queries are NOT here: they live in sql/strategies/*.sql so
--     that index strategies can be swapped and compared. Only indexes that back a constraint are here.

-- The exclusion constraint mixes `=` on uuid with `&&` on a range in one GiST index: needs btree_gist.
CREATE EXTENSION IF NOT EXISTS btree_gist;
-- Trigram operator classes for the patient name search (used by the strategies).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TYPE appointment_status AS ENUM ('booked', 'completed', 'cancelled', 'no_show');

-- A clinic organisation: the unit of tenancy.
CREATE TABLE tenant (
    id          uuid        PRIMARY KEY,
    name        text        NOT NULL CHECK (btrim(name) <> ''),
    time_zone   text        NOT NULL DEFAULT 'UTC' CHECK (btrim(time_zone) <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_updated_after_created CHECK (updated_at >= created_at)
);

-- A clinician who can be booked. Soft-deleted when they leave; their history stays.
CREATE TABLE provider (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenant (id),
    full_name   text        NOT NULL CHECK (btrim(full_name) <> ''),
    specialty   text        NOT NULL CHECK (btrim(specialty) <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT provider_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT provider_updated_after_created CHECK (updated_at >= created_at),
    CONSTRAINT provider_deleted_after_created CHECK (deleted_at IS NULL OR deleted_at >= created_at)
);

-- A person who receives care. The medical record number (MRN) is the tenant's own identifier: unique
-- among live patients of a tenant; a soft-deleted patient's MRN can be issued again.
CREATE TABLE patient (
    id          uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenant (id),
    mrn         text        NOT NULL CHECK (mrn ~ '^[A-Z0-9-]{4,32}$'),
    given_name  text        NOT NULL CHECK (btrim(given_name) <> ''),
    family_name text        NOT NULL CHECK (btrim(family_name) <> ''),
    birth_date  date        NOT NULL CHECK (birth_date >= DATE '1900-01-01'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT patient_tenant_id_key UNIQUE (tenant_id, id),
    CONSTRAINT patient_updated_after_created CHECK (updated_at >= created_at),
    CONSTRAINT patient_deleted_after_created CHECK (deleted_at IS NULL OR deleted_at >= created_at)
);

-- Live MRN uniqueness is a rule, not a tuning choice: it stays with the schema. It also serves the
-- "live patient by MRN" lookup.
CREATE UNIQUE INDEX patient_live_mrn_key ON patient (tenant_id, mrn) WHERE deleted_at IS NULL;

-- The slot an appointment occupies, [start, start + duration).
--
-- `timestamptz + interval` is only STABLE (adding days or months depends on the session time zone), so
-- PostgreSQL refuses it in an index or generated column. Adding a number of *minutes* never depends on
-- the time zone: `n * interval '1 minute'` is an interval with no day or month part (interval
-- multiplication does not carry hours into days), and adding such an interval to a timestamptz is plain
-- microsecond arithmetic. So this wrapper is truly immutable for every input, and may be declared so.
CREATE FUNCTION appointment_slot(start_at timestamptz, duration_min integer)
RETURNS tstzrange
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN tstzrange(start_at, start_at + duration_min * interval '1 minute', '[)');

-- An appointment: a patient booked with a provider for a time slot. Never deleted: cancelled instead.
-- Range-partitioned by month (UTC) on scheduled_at, so the primary key includes scheduled_at.
CREATE TABLE appointment (
    id           uuid        NOT NULL,
    tenant_id    uuid        NOT NULL,
    provider_id  uuid        NOT NULL,
    patient_id   uuid        NOT NULL,
    scheduled_at timestamptz NOT NULL,
    duration_min smallint    NOT NULL,
    slot         tstzrange   NOT NULL GENERATED ALWAYS AS (appointment_slot(scheduled_at, duration_min)) STORED,
    status       appointment_status NOT NULL DEFAULT 'booked',
    reason       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    CONSTRAINT appointment_pkey PRIMARY KEY (id, scheduled_at),
    CONSTRAINT appointment_provider_fk FOREIGN KEY (tenant_id, provider_id) REFERENCES provider (tenant_id, id),
    CONSTRAINT appointment_patient_fk FOREIGN KEY (tenant_id, patient_id) REFERENCES patient (tenant_id, id),
    -- 5 minutes to 8 hours in whole 5-minute steps. The 8-hour ceiling is also what bounds the
    -- cross-month guard below (appointment_boundary_window): change both together.
    CONSTRAINT appointment_duration_range CHECK (duration_min BETWEEN 5 AND 480 AND duration_min % 5 = 0),
    CONSTRAINT appointment_cancelled_iff_status CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT appointment_cancelled_after_created CHECK (cancelled_at IS NULL OR cancelled_at >= created_at),
    CONSTRAINT appointment_updated_after_created CHECK (updated_at >= created_at),
    CONSTRAINT appointment_reason_length CHECK (reason IS NULL OR length(reason) <= 500)
) PARTITION BY RANGE (scheduled_at);

-- Overlaps that straddle a month boundary.
--
-- PostgreSQL 15/16 reject an exclusion constraint on a partitioned table, so each month partition has
-- its own (see create_appointment_partition). Those miss a pair of appointments in two different months
-- that overlap across the boundary (23:45 + 30 min on Jan 31 against 00:00 on Feb 1). Such a pair always
-- contains an appointment that ends after its month's end, and one that starts less than the maximum
-- duration (480 min) after a month's start. Every live appointment of either kind is mirrored into this
-- small unpartitioned table, whose own exclusion constraint then sees every cross-month overlap, with
-- the ordinary exclusion-constraint semantics under concurrency at every isolation level (a concurrent
-- conflicting insert waits for the other transaction and then fails with 23P01).
--
-- The price: bookings in the first 8 hours (UTC) of a month, or crossing midnight UTC at a month's
-- end, cost one extra row and one GiST insertion. No legitimate booking is refused, time pruning
-- stays intact, and no advisory lock or isolation-level assumption is needed.
CREATE TABLE appointment_boundary_slot (
    appointment_id uuid        NOT NULL,
    scheduled_at   timestamptz NOT NULL,
    tenant_id      uuid        NOT NULL,
    provider_id    uuid        NOT NULL,
    slot           tstzrange   NOT NULL,
    CONSTRAINT appointment_boundary_slot_pkey PRIMARY KEY (appointment_id, scheduled_at),
    CONSTRAINT appointment_no_overlap_across_months
        EXCLUDE USING gist (provider_id WITH =, slot WITH &&)
);

-- The window near a month boundary inside which an appointment must be mirrored. STABLE, not
-- IMMUTABLE: date_trunc with a time zone argument is STABLE, and this is only called from a trigger.
CREATE FUNCTION appointment_near_boundary(slot tstzrange)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN
    -- ends in a later month than it starts (it straddles a boundary) ...
    date_trunc('month', lower(slot), 'UTC') <> date_trunc('month', upper(slot) - interval '1 microsecond', 'UTC')
    -- ... or starts within the maximum duration after a month's start
    OR lower(slot) < date_trunc('month', lower(slot), 'UTC') + interval '480 minutes';

CREATE FUNCTION appointment_boundary_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM appointment_boundary_slot
         WHERE appointment_id = OLD.id AND scheduled_at = OLD.scheduled_at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'cancelled' AND appointment_near_boundary(NEW.slot) THEN
        INSERT INTO appointment_boundary_slot (appointment_id, scheduled_at, tenant_id, provider_id, slot)
        VALUES (NEW.id, NEW.scheduled_at, NEW.tenant_id, NEW.provider_id, NEW.slot);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER appointment_boundary_sync
    AFTER INSERT OR UPDATE OR DELETE ON appointment
    FOR EACH ROW EXECUTE FUNCTION appointment_boundary_sync();

-- Adds a partition's exclusion constraint: no two live appointments of a provider overlap. Cancelled
-- appointments do not hold their slot. Separate from create_appointment_partition so that a bulk load
-- can create partitions without it and build it after the load (much faster than maintaining it row
-- by row); the definition lives in one place either way.
CREATE FUNCTION add_appointment_partition_exclusion(part regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = part);
BEGIN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I EXCLUDE USING gist (provider_id WITH =, slot WITH &&) WHERE (status <> %L)',
                   part, name || '_no_overlap', 'cancelled');
END
$$;

-- Creates the partition for the UTC month containing `month` (idempotent) with its exclusion
-- constraint (unless with_exclusion is false: bulk loads add it afterwards), and returns its name.
-- The generator and users call it ahead of time; a booking for a month without a partition fails
-- with "no partition of relation appointment found for row".
CREATE FUNCTION create_appointment_partition(month date, with_exclusion boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    hi   timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part text        := format('appointment_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF appointment FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        IF with_exclusion THEN
            PERFORM add_appointment_partition_exclusion(part::regclass);
        END IF;
    END IF;
    RETURN part;
END
$$;

-- Creates every month partition from the month of `first` to the month of `last`, inclusive.
CREATE FUNCTION create_appointment_partitions(first date, last date) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT create_appointment_partition(m::date)
      FROM generate_series(date_trunc('month', first), date_trunc('month', last), interval '1 month') AS m
$$;

-- updated_at is kept by the database, not trusted to every writer.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := greatest(now(), OLD.updated_at);
    RETURN NEW;
END
$$;

CREATE TRIGGER tenant_touch BEFORE UPDATE ON tenant FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER provider_touch BEFORE UPDATE ON provider FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER patient_touch BEFORE UPDATE ON patient FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER appointment_touch BEFORE UPDATE ON appointment FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The audit trail: one row per insert, update or delete of an appointment, with the old and new row
-- images, who did it (app.actor, else the database user) and when. Append-only.
CREATE TABLE appointment_audit (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid        NOT NULL,
    appointment_id uuid        NOT NULL,
    operation      text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    actor          text        NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    old_row        jsonb,
    new_row        jsonb,
    CONSTRAINT appointment_audit_images CHECK (
        (operation = 'INSERT' AND old_row IS NULL AND new_row IS NOT NULL) OR
        (operation = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL) OR
        (operation = 'DELETE' AND old_row IS NOT NULL AND new_row IS NULL))
);
-- No foreign key to appointment on purpose: the trail must outlive a detached, archived partition, and
-- a rescheduled appointment changes its primary key (id, scheduled_at).

CREATE FUNCTION appointment_audit_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('app.actor', true), ''), session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, old_row, new_row)
        VALUES (NEW.tenant_id, NEW.id, TG_OP, who, NULL, to_jsonb(NEW));
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, old_row, new_row)
        VALUES (NEW.tenant_id, NEW.id, TG_OP, who, to_jsonb(OLD), to_jsonb(NEW));
    ELSE
        INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, old_row, new_row)
        VALUES (OLD.tenant_id, OLD.id, TG_OP, who, to_jsonb(OLD), NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER appointment_audit_write
    AFTER INSERT OR UPDATE OR DELETE ON appointment
    FOR EACH ROW EXECUTE FUNCTION appointment_audit_write();

CREATE FUNCTION appointment_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'appointment_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit rows are never changed; write a new row instead.';
END
$$;

CREATE TRIGGER appointment_audit_append_only
    BEFORE UPDATE OR DELETE ON appointment_audit
    FOR EACH ROW EXECUTE FUNCTION appointment_audit_append_only();
CREATE TRIGGER appointment_audit_no_truncate
    BEFORE TRUNCATE ON appointment_audit
    FOR EACH STATEMENT EXECUTE FUNCTION appointment_audit_append_only();

-- Row-level security: a session sees and writes only the rows of the tenant in `app.tenant_id`.
-- Unset (or reset to '') means no tenant: no rows. Table owners and superusers bypass RLS, as always in
-- PostgreSQL; applications connect as a role like qcheck_app below.
CREATE FUNCTION app_tenant_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
RETURN nullif(current_setting('app.tenant_id', true), '')::uuid;

ALTER TABLE tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider ENABLE ROW LEVEL SECURITY;
ALTER TABLE patient ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointment_boundary_slot ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON tenant USING (id = app_tenant_id()) WITH CHECK (id = app_tenant_id());
CREATE POLICY tenant_isolation ON provider USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
CREATE POLICY tenant_isolation ON patient USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
CREATE POLICY tenant_isolation ON appointment USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
CREATE POLICY tenant_isolation ON appointment_audit USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
-- The boundary guard must see every tenant's rows (provider ids are global) but nobody reads it
-- directly: RLS is on with no policy (so no role but its owner sees a row) and the triggers that write
-- it and the audit trail run as their owner. The application role cannot forge or read around them.
ALTER FUNCTION appointment_boundary_sync() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION appointment_audit_write() SECURITY DEFINER SET search_path = public, pg_temp;

-- The application role. Roles are cluster-wide: it may exist already, or be being created right now by
-- the migration of another database on the same server (then the catalog's unique index makes us wait
-- for that transaction and report a unique violation). Either way the role is there afterwards.
DO $$
BEGIN
    CREATE ROLE qcheck_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
GRANT SELECT, INSERT, UPDATE ON tenant, provider, patient, appointment TO qcheck_app;
GRANT SELECT ON appointment_audit TO qcheck_app;
