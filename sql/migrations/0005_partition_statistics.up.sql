-- 0005: every partition of appointment carries extended statistics on (provider_id, tenant_id), so
-- the planner knows that a provider belongs to one tenant.
--
-- Why: the application reads under row-level security, whose policy adds `tenant_id = <the session's
-- tenant>` to every query. The planner multiplies that qual's selectivity (one tenant in 20 at clinic
-- scale 1) by the provider's as if the two were independent, although the provider decides the
-- tenant: provider_day was estimated at 1 row where 13 came. Functional-dependency statistics
-- (`dependencies`) record that provider_id determines tenant_id, and the planner then counts the
-- tenant qual as implied. They are per leaf, not on the parent: a scan of a leaf is estimated from the
-- leaf's own statistics (and a partitioned parent gets no statistics before PostgreSQL 18 anyway).
-- ANALYZE (the seed's VACUUM (ANALYZE) of each leaf, or autovacuum) fills them.
--
-- Safe on a live database: CREATE STATISTICS takes SHARE UPDATE EXCLUSIVE on its leaf (it neither
-- blocks reads nor writes, and does not scan: the next ANALYZE computes the data); the functions are
-- replaced in place.

-- Adds the statistics to one leaf unless an equivalent object is there already (idempotent, like
-- create_appointment_partition). Named after the leaf, cut so the name stays within 63 bytes and
-- stays distinct (a hash of the full leaf name) when the leaf's own name is long.
--
-- Not on Citus: a partition of a distributed table is distributed itself, and Citus does not carry
-- a CREATE STATISTICS on it to its shards (measured with Citus on PostgreSQL 15: the object exists on
-- the coordinator's shell table only, none of the shards on the workers has it), while the shard
-- queries are planned on the workers from the shards' own statistics. There the function does nothing.
CREATE FUNCTION add_appointment_partition_statistics(part regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    leaf text := (SELECT relname FROM pg_class WHERE oid = part);
    name text;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = part) THEN
            RETURN;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_statistic_ext s
                WHERE s.stxrelid = part
                  AND s.stxkind = '{f}'::"char"[]
                  AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
                         FROM unnest(s.stxkeys) k JOIN pg_attribute a ON a.attrelid = part AND a.attnum = k)
                      = ARRAY['provider_id', 'tenant_id']) THEN
        RETURN;
    END IF;
    name := CASE WHEN length(leaf) <= 46 THEN leaf || '_provider_tenant'
                 ELSE left(leaf, 38) || '_' || left(md5(leaf), 8) || '_provider_tenant' END;
    EXECUTE format('CREATE STATISTICS %I.%I (dependencies) ON provider_id, tenant_id FROM %s',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.oid = part),
                   name, part);
END
$$;

-- As in 0003, plus the statistics (always: they cost nothing until ANALYZE, and a bulk load's
-- ANALYZE is what fills them).
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
        PERFORM add_appointment_partition_statistics(part::regclass);
        PERFORM set_config('appointment.partition_guard', guard, true);
    END IF;
    RETURN part;
END
$$;

-- As in 0003, and a leaf made by plain DDL (`CREATE TABLE ... PARTITION OF appointment`, `ATTACH
-- PARTITION`) gets the statistics too, beside its exclusion constraint.
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
            -- Deferred meanwhile: the ALTER TABLE it runs fires this trigger again.
            PERFORM set_config('appointment.partition_guard', 'deferred', true);
            PERFORM add_appointment_partition_statistics(leaf);
            IF NOT appointment_partition_guarded(leaf) THEN
                RAISE NOTICE 'adding the exclusion constraint of appointment partition %', leaf;
                PERFORM add_appointment_partition_exclusion(leaf);
            END IF;
            PERFORM set_config('appointment.partition_guard', '', true);
        END LOOP;
    END LOOP;
END
$$;

-- The leaves that exist now.
DO $$
DECLARE
    leaf regclass;
BEGIN
    FOR leaf IN SELECT t.relid FROM pg_partition_tree('appointment') t WHERE t.isleaf LOOP
        PERFORM add_appointment_partition_statistics(leaf);
    END LOOP;
END
$$;
