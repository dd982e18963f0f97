-- The size of each event's payload, so that a read bounded in bytes sums
-- small integers instead of reading every payload of its page. Events
-- stored before have none; a read measures theirs.

ALTER TABLE events ADD COLUMN payload_bytes integer;
