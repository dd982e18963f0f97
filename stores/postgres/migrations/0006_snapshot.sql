-- What a task's snapshot shows without replaying its history: the payload of
-- its newest TASK_PROGRESS event, and that of its terminal event. Each
-- append keeps them in the statement that stores the event (see
-- taskbridge.Append.Kept). Tasks stored before get theirs from their
-- history here, once.

ALTER TABLE tasks ADD COLUMN progress json, ADD COLUMN outcome json;

UPDATE tasks AS t SET
    progress = (SELECT e.payload FROM events AS e
        WHERE e.task_id = t.id AND e.type = 'TASK_PROGRESS'
        ORDER BY e.event_id DESC LIMIT 1),
    outcome = (SELECT e.payload FROM events AS e
        WHERE e.task_id = t.id AND e.type IN ('TASK_COMPLETED', 'TASK_FAILED', 'TASK_CANCELLED')
        ORDER BY e.event_id DESC LIMIT 1);
