-- The W3C traceparent of the request that created a task, so that the
-- replica that runs it continues the create's trace. Tasks created before
-- have none.

ALTER TABLE tasks ADD COLUMN trace_parent text NOT NULL DEFAULT '';
