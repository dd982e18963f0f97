// End-to-end: the client package against the real example host, over real
// sockets, with a proxy in front that refuses or cuts what a test says.
// Every test checks that the follower got the task's whole history (read
// back by polling): every event, once, in order.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { TaskBridgeError, type FollowOptions, type FollowState, type TaskEvent, type TransportName } from '../src/index.js';
import { clientOf, history, Proxy, rid, startHost, type Host, type Step } from './harness.js';

const quick: FollowOptions = { backoff: { initialMs: 20, maxMs: 200 } };

/** Follows taskId to its end, calling during(event, n) after each event. */
async function followAll(
  base: string,
  taskId: string,
  options: FollowOptions = {},
  during: (event: TaskEvent, n: number) => void | Promise<void> = () => {},
  token?: Parameters<typeof clientOf>[1],
): Promise<{ events: TaskEvent[]; states: FollowState[]; transports: TransportName[] }> {
  const states: FollowState[] = [];
  const events: TaskEvent[] = [];
  const transports: TransportName[] = [];
  for await (const event of clientOf(base, token).follow(taskId, { ...quick, ...options, onState: (s) => states.push(s) })) {
    events.push(event);
    transports.push(states.at(-1)!.transport);
    await during(event, events.length);
  }
  return { events, states, transports };
}

/** Asserts that got is the task's history: same ids, types and payloads, in order. */
async function assertWholeHistory(base: string, taskId: string, got: TaskEvent[]): Promise<void> {
  const want = await history(clientOf(base), taskId);
  assert.ok(want.length > 0);
  assert.deepEqual(got.map((e) => `${e.eventId} ${e.type}`), want.map((e) => `${e.eventId} ${e.type}`));
  assert.deepEqual(got, want);
}

const ticking = (count: number, intervalMs: number): Step[] => [{ progress: { progress: 10, stage: 'start' } }, { ticks: { count, intervalMs } }, { complete: { result: { ticks: count } } }];

describe('against the example host on the memory store', () => {
  let host: Host;
  let proxy: Proxy;
  before(async () => {
    host = await startHost();
    proxy = await new Proxy(host.base).listen();
  });
  after(async () => {
    await proxy.close();
    await host.stop();
  });

  for (const transport of ['websocket', 'sse', 'poll'] as const) {
    test(`a scripted task with a suspension, followed over ${transport} alone`, async () => {
      const client = clientOf(proxy.base);
      const created = await client.createTask({
        clientRequestId: rid(transport),
        taskType: 'scripted',
        input: {
          steps: [
            { progress: { progress: 5, stage: 'preparing' } },
            { ticks: { count: 5, intervalMs: 10 } },
            { suspend: { kind: 'USER_ACTION_REQUIRED', reasonCode: 'REVIEW', allowedActions: ['approve', 'reject'] } },
            { message: { message: 'approved', level: 'info' } },
            { complete: { result: { published: true } } },
          ],
        },
      });
      assert.equal(created.deduplicated, false);
      const { events, transports } = await followAll(proxy.base, created.taskId, { transports: [transport] }, async (event) => {
        if (event.type !== 'TASK_SUSPENDED') return;
        const snapshot = await client.getTask(created.taskId);
        assert.equal(snapshot.openSuspension?.suspendId, event.payload.suspendId);
        const answer = await client.submitAction(created.taskId, { clientActionId: rid('a'), suspendId: event.payload.suspendId, actionType: 'approve' });
        assert.equal(answer.status, 'ACCEPTED');
      });
      assert.deepEqual([...new Set(transports)], [transport]);
      assert.deepEqual(events.at(-1), { ...events.at(-1)!, type: 'TASK_COMPLETED', payload: { result: { published: true } } });
      await assertWholeHistory(host.base, created.taskId, events);
      const snapshot = await client.getTask(created.taskId);
      assert.equal(snapshot.status, 'COMPLETED');
      assert.equal(snapshot.lastEventId, events.at(-1)!.eventId);
      assert.deepEqual(snapshot.result, { published: true }, 'the snapshot shows the result');
      assert.deepEqual(snapshot.progress, { progress: 5, stage: 'preparing' }, 'and the latest progress');
      assert.equal(snapshot.openSuspension, null);
    });
  }

  test('a WebSocket cut mid-stream resumes on the WebSocket after the last event', async () => {
    const client = clientOf(proxy.base);
    const { taskId } = await client.createTask({ clientRequestId: rid('cut'), taskType: 'scripted', input: { steps: ticking(40, 15) } });
    const before = proxy.forwarded.websocket;
    const cuts: number[] = [];
    const { events, transports, states } = await followAll(proxy.base, taskId, {}, (_e, n) => {
      if (n === 5 || n === 20) cuts.push(proxy.cutWebSockets());
    });
    assert.deepEqual(cuts, [1, 1], 'each cut broke the one WebSocket');
    assert.equal(proxy.forwarded.websocket - before, 3, 'two reconnects');
    assert.deepEqual([...new Set(transports)], ['websocket']);
    assert.ok(states.some((s) => s.status === 'retrying'));
    await assertWholeHistory(host.base, taskId, events);
  });

  test('WebSocket refused, then SSE refused: long polls deliver everything, in order, once', async () => {
    proxy.rules = { refuseWebSocket: true, refuseSse: true };
    try {
      const client = clientOf(proxy.base);
      const { taskId } = await client.createTask({ clientRequestId: rid('poll'), taskType: 'scripted', input: { steps: ticking(20, 10) } });
      const { events, transports, states } = await followAll(proxy.base, taskId);
      assert.deepEqual([...new Set(transports)], ['poll']);
      assert.deepEqual([...new Set(states.map((s) => s.transport))], ['websocket', 'sse', 'poll']);
      await assertWholeHistory(host.base, taskId, events);
    } finally {
      proxy.rules = {};
    }
  });

  test('an expired token gets a 401; the provider refreshes it, for calls and for streams', async () => {
    const asked: boolean[] = [];
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    // The first token expires in two seconds; a refresh gives one that does not.
    const token = ({ refresh }: { refresh: boolean }) => {
      asked.push(refresh);
      return refresh ? 'alice' : `alice;expires=${expiresAt}`;
    };
    const client = clientOf(proxy.base, token);
    const { taskId } = await client.createTask({ clientRequestId: rid('auth'), taskType: 'scripted', input: { steps: ticking(30, 100) } });
    let cut = false;
    const { events, transports } = await followAll(
      proxy.base,
      taskId,
      {},
      (_e) => {
        if (!cut && Date.now() > expiresAt * 1000) cut = proxy.cutWebSockets() > 0; // the reconnect carries the expired token
      },
      token,
    );
    assert.ok(cut, 'the WebSocket was cut after the token expired');
    assert.deepEqual(asked, [false, false, true], 'each client asked once, and the follower refreshed once');
    assert.deepEqual([...new Set(transports)], ['websocket'], 'a refused token is not a reason to leave the WebSocket');
    await assertWholeHistory(host.base, taskId, events);

    // A call refreshes too: a fresh client whose first token already expired.
    const calls: boolean[] = [];
    const late = clientOf(proxy.base, ({ refresh }) => (calls.push(refresh), refresh ? 'alice' : `alice;expires=${expiresAt - 60}`));
    assert.equal((await late.getTask(taskId)).status, 'COMPLETED');
    assert.deepEqual(calls, [false, true]);
    // A fixed expired token fails with the 401 envelope.
    await assert.rejects(
      clientOf(proxy.base, `alice;expires=${expiresAt - 60}`).getTask(taskId),
      (err: unknown) => err instanceof TaskBridgeError && err.status === 401 && err.code === 'AUTHENTICATION_ERROR' && /expired/.test(String(err.details.reason)),
    );
  });

  test('a cancel with a reason ends the follow with TASK_CANCELLED carrying it', async () => {
    const client = clientOf(proxy.base);
    const { taskId } = await client.createTask({ clientRequestId: rid('cancel'), taskType: 'scripted', input: { steps: ticking(1000, 20) } });
    const { events } = await followAll(proxy.base, taskId, {}, async (_e, n) => {
      if (n === 3) await client.cancelTask(taskId, { reason: 'the user left' });
    });
    const last = events.at(-1)!;
    assert.equal(last.type, 'TASK_CANCELLED');
    assert.equal(last.type === 'TASK_CANCELLED' && last.payload.reason, 'the user left');
    await assertWholeHistory(host.base, taskId, events);
    const snapshot = await client.getTask(taskId);
    assert.equal(snapshot.status, 'CANCELLED');
    assert.equal(snapshot.cancelReason, 'the user left');
  });

  test('a multipart create with files; the same again is deduplicated, other bytes are a conflict', async () => {
    const client = clientOf(proxy.base);
    const id = rid('mp');
    const files = [
      { name: 'photo.png', data: new Blob([randomBytes(512)], { type: 'image/png' }) },
      { name: 'notes.txt', data: new Blob(['hello'], { type: 'text/plain' }) },
    ];
    const request = { clientRequestId: id, taskType: 'echo' as const, input: { a: 1 } };
    const first = await client.createTask(request, { attachments: files });
    const again = await client.createTask(request, { attachments: files });
    assert.equal(again.taskId, first.taskId);
    assert.equal(again.deduplicated, true);
    await assert.rejects(
      client.createTask(request, { attachments: [{ name: 'photo.png', data: new Blob(['other']) }] }),
      (err: unknown) => err instanceof TaskBridgeError && err.status === 409 && err.code === 'IDEMPOTENCY_CONFLICT' && err.details.taskId === first.taskId,
    );
    const { events } = await followAll(proxy.base, first.taskId);
    assert.deepEqual(events.at(-1)?.payload, { result: { a: 1 } });
  });

  test('a failed task: the follow ends with TASK_FAILED and the snapshot shows the failure', async () => {
    const client = clientOf(proxy.base);
    const { taskId } = await client.createTask({ clientRequestId: rid('fail'), taskType: 'scripted', input: { steps: [{ progress: { progress: 30 } }, { fail: { code: 'RENDER_FAILED', message: 'out of ink', retryable: true } }] } });
    const { events } = await followAll(proxy.base, taskId);
    assert.equal(events.at(-1)?.type, 'TASK_FAILED');
    const snapshot = await client.getTask(taskId);
    assert.equal(snapshot.status, 'FAILED');
    assert.deepEqual(snapshot.failure, { code: 'RENDER_FAILED', message: 'out of ink', retryable: true });
    assert.deepEqual(snapshot.progress, { progress: 30 });
  });

  test('a task that is not the caller\'s ends the follow with TASK_NOT_FOUND on every transport', async () => {
    const { taskId } = await clientOf(proxy.base).createTask({ clientRequestId: rid('own'), taskType: 'echo', input: {} });
    for (const transport of ['websocket', 'sse', 'poll'] as const) {
      await assert.rejects(followAll(proxy.base, taskId, { transports: [transport] }, () => {}, 'mallory'), (err: unknown) => err instanceof TaskBridgeError && err.code === 'TASK_NOT_FOUND', transport);
    }
  });
});

describe('against two example hosts on one PostgreSQL database', () => {
  const url = process.env.TASKBRIDGE_TEST_POSTGRES_URL;
  if (!url) {
    if (process.env.CI) throw new Error('TASKBRIDGE_TEST_POSTGRES_URL is not set; CI must not skip the PostgreSQL end-to-end test');
    test('host restart mid-stream', { skip: 'set TASKBRIDGE_TEST_POSTGRES_URL to run it' }, () => {});
    return;
  }
  const flags = ['-store', 'postgres', '-postgres-url', url, '-postgres-schema', `tbts_${randomBytes(4).toString('hex')}`];

  test('the host a follower is connected to restarts mid-stream: it resumes on the new process, missing nothing', async () => {
    const runner = await startHost(...flags); // runs the task throughout
    let served = await startHost(...flags); // serves the follower, and is killed
    const proxy = await new Proxy(served.base).listen();
    try {
      const { taskId } = await clientOf(runner.base).createTask({ clientRequestId: rid('restart'), taskType: 'scripted', input: { steps: ticking(60, 30) } });
      const restarts: number[] = [];
      const { events, transports } = await followAll(proxy.base, taskId, {}, async (_e, n) => {
        if (n !== 10 && n !== 30) return;
        await served.stop(n === 10 ? 'SIGKILL' : 'SIGTERM');
        proxy.cutAll();
        served = await startHost(...flags);
        proxy.upstream = new URL(served.base);
        restarts.push(n);
      });
      assert.deepEqual(restarts, [10, 30]);
      assert.ok(transports.length > 30);
      assert.equal(events.at(-1)?.type, 'TASK_COMPLETED');
      await assertWholeHistory(runner.base, taskId, events);
    } finally {
      await proxy.close();
      await served.stop();
      await runner.stop();
    }
  });
});
