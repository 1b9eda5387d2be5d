-- Reverts 0002: the column goes; nothing else depends on it.
-- squawk-ignore-file ban-drop-column
ALTER TABLE appointment DROP COLUMN IF EXISTS booked_via;
