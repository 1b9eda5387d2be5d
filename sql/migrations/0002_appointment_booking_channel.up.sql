-- 0002 expand: record through which channel an appointment was booked.
--
-- Expand/contract, the backward-compatible half. Writers of the previous release do not know the
-- column: it gets a constant default, so their INSERTs keep working and their rows read 'staff'.
-- Since PostgreSQL 11 a constant default is stored in the catalog: no table rewrite. The inline CHECK
-- is not free, though: PostgreSQL validates it by scanning every partition while the statement holds
-- ACCESS EXCLUSIVE on appointment (measured with pg_stat_xact_user_tables), so on a loaded database
-- this blocks reads and writes for the length of a full scan. On a new database (qcheck migrates before
-- it seeds) the table is empty and it is instant. The safe form, which migrations follow from 0003 on
-- (README, "Migrations on a live database"), adds the column, then the CHECK ... NOT VALID (catalog
-- only), then VALIDATE CONSTRAINT in a later transaction (a scan under SHARE UPDATE EXCLUSIVE, which
-- blocks neither reads nor writes). This file is not rewritten that way because databases have
-- applied it and recorded its checksum; only this comment changed (src/schema.rs, REWORDED).
-- The contract half (a later migration, once every writer sets the column explicitly) would drop the
-- default.

ALTER TABLE appointment
    ADD COLUMN booked_via text NOT NULL DEFAULT 'staff'
        CONSTRAINT appointment_booked_via_known CHECK (booked_via IN ('staff', 'portal', 'phone', 'import'));
