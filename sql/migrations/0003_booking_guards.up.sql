-- 0003 booking guards: colliding bookings queue per provider instead of deadlocking, the slot
-- functions become inlinable, every partition of appointment gets its exclusion constraint however it
-- was made, no booking for a soft-deleted patient or provider, a reschedule across months is audited as
-- one UPDATE, and the audit trail records the database login role.
--
-- Safe on a live database: no statement here rewrites or scans a table. The runner applies it in one
-- transaction under lock_timeout (see src/schema.rs); the locks taken are SHARE ROW EXCLUSIVE on
-- appointment and its partitions (CREATE TRIGGER) and ACCESS EXCLUSIVE on appointment_audit (ADD
-- COLUMN without a default, catalog-only), each held for milliseconds.

-- Inlinable slot functions.
--
-- 0001 declared appointment_slot STRICT around a body that is not strict (a range constructor accepts
-- NULL bounds), and `timestamptz + interval` is only STABLE: either one stops the planner from inlining
-- the function, so the stored `slot` cost a function call per row on every insert (5.5 s against 1.2 s
-- per million rows). The same value is computed here from IMMUTABLE parts only: the instant seen as a
-- UTC wall-clock timestamp (timezone(text, timestamptz), immutable), plus whole minutes
-- (timestamp + interval, immutable: UTC has no daylight saving), back to timestamptz. Non-STRICT, so
-- the NULL result STRICT gave is spelled out with CASE. A unit of the model tests compares both
-- definitions on month ends, DST transitions of every tenant time zone, a leap day, 23:59:59.999999
-- and NULLs, and checks that the planner inlines the new ones.
CREATE OR REPLACE FUNCTION appointment_slot(start_at timestamptz, duration_min integer)
RETURNS tstzrange
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN start_at IS NOT NULL AND duration_min IS NOT NULL THEN
           tstzrange(start_at,
                     ((start_at AT TIME ZONE 'UTC') + make_interval(mins => duration_min)) AT TIME ZONE 'UTC',
                     '[)')
       END;

-- Same truth table as 0001 (NULL in, NULL out: lower() and upper() are strict), from immutable date_trunc
-- on the UTC wall clock instead of the STABLE three-argument date_trunc.
CREATE OR REPLACE FUNCTION appointment_near_boundary(slot tstzrange)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN
    date_trunc('month', lower(slot) AT TIME ZONE 'UTC')
        <> date_trunc('month', (upper(slot) AT TIME ZONE 'UTC') - interval '1 microsecond')
    OR (lower(slot) AT TIME ZONE 'UTC')
        < date_trunc('month', lower(slot) AT TIME ZONE 'UTC') + interval '480 minutes';

-- Bookings of one provider queue; soft-deleted patients and providers cannot be booked.
--
-- Why colliding bookings deadlocked: an exclusion check that finds an overlapping entry of a transaction
-- still in progress waits for that transaction. Two inserters that each found the other's entry wait on
-- each other; the deadlock detector breaks the cycle only after deadlock_timeout (1 s), and at a month
-- boundary the mirror in appointment_boundary_slot is a second exclusion check taken in another order,
-- so 32 colliding clients cascaded for 13-20 s and many losers got 40P01 instead of 23P01.
--
-- The cure: every write that leaves a live appointment (the rows the exclusion constraints see) first
-- takes a transaction-level advisory lock on its provider, in a BEFORE trigger, so before any index
-- entry exists. Bookings of one provider then run one at a time: the exclusion checks only ever meet
-- committed rows and fail at once with 23P01 naming the conflicting slot; the queue for a provider is as
-- long as its writers' transactions. Other providers' bookings do not wait. The price: writes of one
-- provider are serialized (a booking transaction should be short and should book several providers in
-- a consistent order, as with any lock), and a statement updating live appointments of N providers holds
-- N advisory locks until commit (the shared lock table holds max_locks_per_transaction x max_connections
-- entries: batch very large maintenance updates). Bulk loads that silence triggers take no lock.
--
-- The lock key is (class, hashtext(provider_id)): the two-key form keeps these locks apart from any
-- bigint advisory lock of the application or of qcheck's migration runner; a hash collision between
-- two providers only makes them queue together. provider_id alone is the key because the exclusion
-- constraints compare provider_id alone (ids are unique across tenants).
CREATE FUNCTION appointment_booking_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    provider_gone timestamptz;
    patient_gone  timestamptz;
    kind          text;
BEGIN
    IF NEW.status = 'cancelled' THEN
        RETURN NEW; -- holds no slot: in no exclusion index
    END IF;

    -- A booking: a new booked row, a row becoming booked, or a booked row moved to another patient,
    -- provider or time. FOR SHARE keeps a concurrent soft delete from slipping in before commit.
    IF NEW.status = 'booked' AND (TG_OP = 'INSERT'
            OR OLD.status <> 'booked'
            OR (NEW.patient_id, NEW.provider_id, NEW.scheduled_at, NEW.duration_min)
               IS DISTINCT FROM (OLD.patient_id, OLD.provider_id, OLD.scheduled_at, OLD.duration_min)) THEN
        SELECT deleted_at INTO provider_gone FROM provider
         WHERE tenant_id = NEW.tenant_id AND id = NEW.provider_id FOR SHARE;
        SELECT deleted_at INTO patient_gone FROM patient
         WHERE tenant_id = NEW.tenant_id AND id = NEW.patient_id FOR SHARE;
        IF provider_gone IS NOT NULL OR patient_gone IS NOT NULL THEN
            kind := CASE WHEN provider_gone IS NOT NULL THEN 'provider' ELSE 'patient' END;
            RAISE EXCEPTION 'cannot book % %: the % was deleted', kind,
                    CASE kind WHEN 'provider' THEN NEW.provider_id ELSE NEW.patient_id END, kind
                USING ERRCODE = 'QB001',
                      DETAIL = format('The %s has deleted_at = %s (tenant %s).', kind,
                                      coalesce(provider_gone, patient_gone), NEW.tenant_id),
                      HINT = 'A soft-deleted provider or patient keeps the history but takes no new bookings.';
        END IF;
    END IF;

    -- Last, so that the queue's critical section is only the row's own insertion and checks (and, for
    -- the winner, its AFTER triggers and commit). The row locks above cannot form a cycle with it:
    -- share locks do not conflict with each other, and a soft delete takes no advisory lock.
    PERFORM pg_advisory_xact_lock(1902342913, hashtext(NEW.provider_id::text));
    RETURN NEW;
END
$$;
-- Runs as its owner: the application role must see the provider row whatever its own grants say, and
-- must not be able to substitute its own `provider` or `patient` through search_path.
ALTER FUNCTION appointment_booking_guard() SECURITY DEFINER SET search_path = public, pg_temp;

-- Fires on every partition, present and future (a trigger on a partitioned table is cloned), before
-- appointment_touch (triggers of one event fire in name order; neither depends on the other).
CREATE TRIGGER appointment_booking_guard
    BEFORE INSERT OR UPDATE ON appointment
    FOR EACH ROW EXECUTE FUNCTION appointment_booking_guard();

-- The audit trail records the database login role beside the application-supplied actor: app.actor is
-- whatever the client says, session_user is who authenticated. Nullable without a default at first, so
-- that adding it is catalog-only; rows written before this migration say NULL (not recorded). The
-- default then covers every later insert, the trigger's and a bulk load's.
ALTER TABLE appointment_audit ADD COLUMN session_role text;
ALTER TABLE appointment_audit ALTER COLUMN session_role SET DEFAULT session_user;

-- A reschedule across a month boundary moves the row to another partition, which PostgreSQL carries out
-- as a DELETE from the old partition and an INSERT into the new one: the row triggers see DELETE then
-- INSERT, never UPDATE. An appointment is never deleted, so the trail must say UPDATE. The DELETE half
-- looks for the row under the same id (AFTER triggers run once the statement is done, when the moved row
-- is visible): found, it writes one UPDATE with the old and new images and leaves a marker that the
-- INSERT half, which fires right after it, consumes instead of writing an INSERT. The marker is a
-- session setting set without LOCAL (a function SET clause would undo a LOCAL one at its exit); a
-- rollback undoes it like any SET. Only deletes pay the lookup (the primary key starts with id).
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
         WHERE a.id = OLD.id AND a.scheduled_at <> OLD.scheduled_at;
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
-- CREATE OR REPLACE resets the attributes 0001 gave it: it runs as its owner again (see 0001).
ALTER FUNCTION appointment_audit_write() SECURITY DEFINER SET search_path = public, pg_temp;

-- Every partition guarded.
--
-- Whether a leaf of appointment has the exclusion constraint add_appointment_partition_exclusion gives
-- (compared as PostgreSQL prints the definition). A catalog lookup: it takes no lock on the leaf.
CREATE FUNCTION appointment_partition_guarded(leaf regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_constraint c
         WHERE c.conrelid = leaf AND c.contype = 'x'
           AND pg_get_constraintdef(c.oid)
               = 'EXCLUDE USING gist (provider_id WITH =, slot WITH &&) WHERE ((status <> ''cancelled''::appointment_status))')
$$;

-- The leaves of appointment without it, by name. `qcheck migrate status` lists them.
CREATE FUNCTION appointment_unguarded_partitions() RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
    SELECT t.relid
      FROM pg_partition_tree('appointment') t
     WHERE t.isleaf AND NOT appointment_partition_guarded(t.relid)
     ORDER BY t.relid::text
$$;

-- A leaf that a CREATE TABLE made (`CREATE TABLE ... PARTITION OF appointment`, by a DBA or pg_partman)
-- or that an ALTER TABLE attached (`ALTER TABLE appointment ATTACH PARTITION ...`: the command names the
-- partitioned table) gets its exclusion constraint at the end of that command, inside its transaction:
-- the DDL either leaves a guarded partition or fails (an attached table whose rows overlap is refused
-- with 23P01). Adding the guard rather than refusing the DDL keeps partition tools working unchanged.
-- ALTER TABLE of a leaf itself is ignored without touching any lock (the seed adds the leaves'
-- constraints on two connections at once, each leaf under ACCESS EXCLUSIVE: a trigger that looked at
-- the other leaves would deadlock them), so the loader may disable a leaf's triggers, and dropping a
-- leaf's constraint stays its owner's deliberate act (`qcheck migrate status` reports it).
-- create_appointment_partition(month, false), which bulk loads use to build the constraint after the
-- load (much faster), sets appointment.partition_guard = 'deferred' for its own CREATE TABLE.
CREATE FUNCTION appointment_partition_guard() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    cmd  record;
    leaf regclass;
BEGIN
    IF current_setting('appointment.partition_guard', true) = 'deferred'
       OR to_regclass('appointment') IS NULL THEN
        RETURN;
    END IF;
    FOR cmd IN
        SELECT c.objid
          FROM pg_event_trigger_ddl_commands() c
          JOIN pg_class r ON r.oid = c.objid
         WHERE c.classid = 'pg_class'::regclass
           AND ((c.command_tag = 'CREATE TABLE' AND r.relkind = 'r' AND r.relispartition)
                OR (c.command_tag = 'ALTER TABLE' AND r.relkind = 'p'))
    LOOP
        CONTINUE WHEN pg_partition_root(cmd.objid) IS DISTINCT FROM 'appointment'::regclass;
        FOR leaf IN SELECT t.relid FROM pg_partition_tree(cmd.objid) t WHERE t.isleaf LOOP
            CONTINUE WHEN appointment_partition_guarded(leaf);
            RAISE NOTICE 'adding the exclusion constraint of appointment partition %', leaf;
            -- Deferred meanwhile: the ALTER TABLE it runs fires this trigger again.
            PERFORM set_config('appointment.partition_guard', 'deferred', true);
            PERFORM add_appointment_partition_exclusion(leaf);
            PERFORM set_config('appointment.partition_guard', '', true);
        END LOOP;
    END LOOP;
END
$$;

-- Event triggers can only be created by a superuser. Migrated by another role (a managed server), the
-- schema has no automatic guard: `qcheck migrate status` still reports unguarded partitions, and
-- create_appointment_partition remains the way to make them.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EVENT TRIGGER appointment_partition_guard ON ddl_command_end
            WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
            EXECUTE FUNCTION appointment_partition_guard();
    ELSE
        RAISE WARNING 'not a superuser: no event trigger guards partitions of appointment made by plain DDL';
    END IF;
END
$$;

-- As in 0001, but the event trigger stays out of it: the function adds the constraint itself, or not
-- at all when the caller builds it later (bulk loads).
CREATE OR REPLACE FUNCTION create_appointment_partition(month date, with_exclusion boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lo    timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    hi    timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part  text        := format('appointment_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
    guard text        := coalesce(current_setting('appointment.partition_guard', true), '');
BEGIN
    IF to_regclass(part) IS NULL THEN
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
