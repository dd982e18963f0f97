-- Executor leases: each process that runs tasks holds a lease, renewed
-- while it lives, and marks the tasks it takes with its name. A live task
-- whose holder's lease expired, or that no holder holds, is lost: another
-- process claims it and ends it.
--
-- Tasks live when this migration runs are held by no one, so a replica of
-- this version ends those it does not run itself a lease time after it
-- starts: upgrade the replicas of one database together.

CREATE TABLE executor_leases (
    holder      text PRIMARY KEY,
    lease_until timestamptz NOT NULL
);

-- lease_holder names the process that holds the task; with lease_lost it
-- holds it only to end it, as a lost task it claimed.
ALTER TABLE tasks ADD COLUMN lease_holder text, ADD COLUMN lease_lost boolean NOT NULL DEFAULT false;

-- The claim of lost tasks: live tasks by holder, those held by no one
-- oldest first.
CREATE INDEX tasks_live_lease ON tasks (lease_holder, created_at) WHERE ended_at IS NULL;
