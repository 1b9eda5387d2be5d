-- 0002 expand: record through which channel an appointment was booked.
--
-- Expand/contract, the backward-compatible half. Writers of the previous release do not know the
-- column: it gets a constant default, so their INSERTs keep working and their rows read 'staff'.
-- Since PostgreSQL 11 a constant default is stored in the catalog, so this is a metadata-only change:
-- no table rewrite, a brief ACCESS EXCLUSIVE lock only. The contract half (a later migration, once
-- every writer sets the column explicitly) would drop the default.

ALTER TABLE appointment
    ADD COLUMN booked_via text NOT NULL DEFAULT 'staff'
        CONSTRAINT appointment_booked_via_known CHECK (booked_via IN ('staff', 'portal', 'phone', 'import'));
