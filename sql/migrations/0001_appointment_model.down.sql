-- Reverts 0001: drops every object it created. Dropping the partitioned parent drops its partitions.
-- squawk-ignore-file ban-drop-table, ban-drop-function, ban-drop-type, ban-drop-extension

DROP TABLE IF EXISTS appointment_audit;
DROP TABLE IF EXISTS appointment;
DROP TABLE IF EXISTS appointment_boundary_slot;
DROP TABLE IF EXISTS patient;
DROP TABLE IF EXISTS provider;
DROP TABLE IF EXISTS tenant;

DROP FUNCTION IF EXISTS app_tenant_id();
DROP FUNCTION IF EXISTS appointment_audit_append_only();
DROP FUNCTION IF EXISTS appointment_audit_write();
DROP FUNCTION IF EXISTS touch_updated_at();
DROP FUNCTION IF EXISTS create_appointment_partitions(date, date);
DROP FUNCTION IF EXISTS create_appointment_partition(date, boolean);
DROP FUNCTION IF EXISTS add_appointment_partition_exclusion(regclass);
DROP FUNCTION IF EXISTS appointment_boundary_sync();
DROP FUNCTION IF EXISTS appointment_near_boundary(tstzrange);
DROP FUNCTION IF EXISTS appointment_slot(timestamptz, integer);
DROP TYPE IF EXISTS appointment_status;

-- The role is cluster-wide: drop it unless roles are members of it (login roles of the application:
-- dropping it would revoke their membership, and a later `up` would create a new role they are not
-- members of) or another database still grants it something. `qcheck migrate down` says when it is kept.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
                WHERE r.rolname = 'qcheck_app') THEN
        RAISE NOTICE 'role qcheck_app has members; kept';
    ELSE
        DROP ROLE IF EXISTS qcheck_app;
    END IF;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role qcheck_app is still used by another database; kept';
END
$$;

DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS btree_gist;
