-- The last step of the single-node model with Citus's tenant-leading keys (scripts/tenant-keys.sh runs
-- it on a copy of a seeded database, never on the one qcheck uses). Before it, the script has run
-- the key changes of sql/citus/distribute.sql itself (its foreign-key, key, partition-guard-drop and
-- foreign-key-back statements, without the distribution) and its add_appointment_partition_exclusion:
-- here every month partition gets its guard back, tenant-leading, and statistics are refreshed.
SELECT add_appointment_partition_exclusion(t.relid)
  FROM pg_partition_tree('appointment') t
 WHERE t.isleaf;
VACUUM (ANALYZE);
