-- Reverts 0003: the functions go back to their 0001 bodies, the new objects go. Audit rows keep their
-- content except the session_role column (down loses what it recorded, as any down of an added column).
-- squawk-ignore-file ban-drop-function, ban-drop-column

DROP EVENT TRIGGER IF EXISTS appointment_partition_guard;
DROP FUNCTION IF EXISTS appointment_partition_guard();
DROP FUNCTION IF EXISTS appointment_unguarded_partitions();
DROP FUNCTION IF EXISTS appointment_partition_guarded(regclass);
DROP TRIGGER IF EXISTS appointment_booking_guard ON appointment;
DROP FUNCTION IF EXISTS appointment_booking_guard();

CREATE OR REPLACE FUNCTION create_appointment_partition(month date, with_exclusion boolean DEFAULT true) RETURNS text
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

CREATE OR REPLACE FUNCTION appointment_audit_write() RETURNS trigger
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
ALTER FUNCTION appointment_audit_write() SECURITY DEFINER SET search_path = public, pg_temp;

ALTER TABLE appointment_audit DROP COLUMN IF EXISTS session_role;

CREATE OR REPLACE FUNCTION appointment_near_boundary(slot tstzrange)
RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN
    -- ends in a later month than it starts (it straddles a boundary) ...
    date_trunc('month', lower(slot), 'UTC') <> date_trunc('month', upper(slot) - interval '1 microsecond', 'UTC')
    -- ... or starts within the maximum duration after a month's start
    OR lower(slot) < date_trunc('month', lower(slot), 'UTC') + interval '480 minutes';

CREATE OR REPLACE FUNCTION appointment_slot(start_at timestamptz, duration_min integer)
RETURNS tstzrange
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN tstzrange(start_at, start_at + duration_min * interval '1 minute', '[)');
