-- The first schema of taskbridge-go's PostgreSQL store.
--
-- Every row that belongs to a task references it with ON DELETE CASCADE, so
-- that retention removes a task whole with one DELETE.

CREATE TABLE tasks (
    id                text PRIMARY KEY,
    owner             text NOT NULL,
    client_request_id text NOT NULL,
    type              text NOT NULL,
    input             json,
    metadata          json,
    fingerprint       bytea NOT NULL, -- opaque: any bytes, NUL too
    attachment_count  integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    status            text NOT NULL,
    updated_at        timestamptz NOT NULL,
    ended_at          timestamptz,
    -- last_event_id is the per-task counter: an append increments it in the
    -- same statement that inserts the event, under the row's lock, so ids
    -- are dense and increasing however many processes append.
    last_event_id     bigint NOT NULL DEFAULT 0,
    cancel_requested  boolean NOT NULL DEFAULT false,
    cancel_reason     text NOT NULL DEFAULT '',
    -- Idempotent create: concurrent identical creates meet here.
    CONSTRAINT tasks_request_key UNIQUE (owner, client_request_id)
);

-- Retention: ended tasks, oldest first.
CREATE INDEX tasks_ended ON tasks (ended_at, id) WHERE ended_at IS NOT NULL;

CREATE TABLE task_attachments (
    task_id      text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    field        text NOT NULL,
    name         text NOT NULL,
    content_type text NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (task_id, position)
);

CREATE TABLE events (
    task_id    text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    event_id   bigint NOT NULL,
    type       text NOT NULL,
    created_at timestamptz NOT NULL,
    -- json, not jsonb: a payload is given back byte for byte.
    payload    json,
    PRIMARY KEY (task_id, event_id)
);

CREATE TABLE suspensions (
    task_id         text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    suspend_id      text NOT NULL,
    -- opened_event_id is the TASK_SUSPENDED event that opened it.
    opened_event_id bigint NOT NULL,
    allowed_actions text[] NOT NULL,
    expires_at      timestamptz,
    payload         json,
    created_at      timestamptz NOT NULL,
    state           text NOT NULL,
    resolved_at     timestamptz,
    -- action is the accepted action that resolved it, kept with the
    -- suspension so that pruning the receipt does not take it away;
    -- action_id is its clientActionId.
    action          json,
    action_id       text,
    handed_off      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (task_id, suspend_id)
);

-- Expiry: open suspensions with a deadline, soonest first.
CREATE INDEX suspensions_expiring ON suspensions (expires_at, task_id, suspend_id)
    WHERE state = 'open' AND expires_at IS NOT NULL;
-- The reconciler: outcomes not handed off yet, oldest first.
CREATE INDEX suspensions_pending ON suspensions (resolved_at, task_id, suspend_id)
    WHERE state IN ('resolved', 'expired') AND NOT handed_off;

CREATE TABLE action_receipts (
    task_id          text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    client_action_id text NOT NULL,
    fingerprint      bytea NOT NULL,
    received_at      timestamptz NOT NULL,
    -- receipt is the whole receipt, as the suspension's action is.
    receipt          json NOT NULL,
    handed_off       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (task_id, client_action_id)
);

-- Pruning: receipts whose hand-off is done, oldest first.
CREATE INDEX action_receipts_prunable ON action_receipts (received_at, task_id, client_action_id)
    WHERE handed_off;
