-- Reverts 0005: create_appointment_partition and the partition guard go back to their 0003 bodies,
-- and the statistics objects add_appointment_partition_statistics made on the leaves go (plans lose the
-- provider-tenant dependency; no data changes).
-- squawk-ignore-file ban-drop-function

DO $$
DECLARE
    stat record;
BEGIN
    FOR stat IN
        SELECT n.nspname, s.stxname
          FROM pg_statistic_ext s
          JOIN pg_namespace n ON n.oid = s.stxnamespace
          JOIN pg_partition_tree('appointment') t ON t.relid = s.stxrelid AND t.isleaf
         WHERE s.stxname LIKE '%\_provider\_tenant'
    LOOP
        EXECUTE format('DROP STATISTICS %I.%I', stat.nspname, stat.stxname);
    END LOOP;
END
$$;

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

CREATE OR REPLACE FUNCTION appointment_partition_guard() RETURNS event_trigger
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

DROP FUNCTION add_appointment_partition_statistics(regclass);
