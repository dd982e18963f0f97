-- Idempotent appends: an event may carry the key of the report that made
-- it, so that a report retried after a commit of unknown outcome finds its
-- event instead of appending a second copy.

ALTER TABLE events ADD COLUMN report_key text;

CREATE UNIQUE INDEX events_report_key ON events (task_id, report_key) WHERE report_key IS NOT NULL;
