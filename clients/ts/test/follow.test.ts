import assert from 'node:assert/strict';
import { after as afterTest, test } from 'node:test';
import WebSocket from 'ws';

import { memoryCheckpoints, TaskBridgeClient, TaskBridgeError, type FollowOptions, type FollowState, type TaskEvent, type TokenProvider, type WebSocketConstructor } from '../src/index.js';
import { after, envelope, events, type Fake, type Routes, sseEvent, sseHead, startFake } from './fakeserver.js';

const fakes: Fake[] = [];
afterTest(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

async function fake(routes: Routes): Promise<Fake> {
  const f = await startFake(routes);
  fakes.push(f);
  return f;
}

function client(f: Fake, token: TokenProvider = 'alice'): TaskBridgeClient {
  return new TaskBridgeClient({ baseUrl: f.baseUrl, token, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

const quick: FollowOptions = { backoff: { initialMs: 5, maxMs: 20 }, heartbeatTimeoutMs: 2000 };

/** Follows to the end, recording events and states. */
async function follow(c: TaskBridgeClient, taskId: string, options: FollowOptions = {}): Promise<{ ids: string[]; states: FollowState[] }> {
  const states: FollowState[] = [];
  const ids: string[] = [];
  for await (const e of c.follow(taskId, { ...quick, ...options, onState: (s) => states.push(s) })) ids.push(e.eventId);
  return { ids, states };
}

/** The transport and status of each state, e.g. "sse:open". */
const path = (states: FollowState[]) => states.map((s) => `${s.transport}:${s.status}`);

/** An SSE route that replays after Last-Event-ID and ends after the terminal event. */
function sseServing(list: TaskEvent[]): Routes['sse'] {
  return (req, res) => {
    sseHead(res);
    for (const e of after(list, req.headers['last-event-id'] as string | undefined)) sseEvent(res, e);
    res.end();
  };
}

/** A snapshot route of a running task. */
const running: Routes['snapshot'] = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ status: 'RUNNING', lastEventId: null }));
};

test('over the WebSocket: subscribe with the cursor, token as access_token, events until the terminal one', async () => {
  const list = events('t1', [10, 50]);
  const subscribes: unknown[] = [];
  const f = await fake({
    ws: (socket, seen) => {
      assert.equal(seen.query.get('access_token'), 'alice');
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { lastEventId: string | null };
        subscribes.push(frame);
        socket.send(JSON.stringify({ type: 'SUBSCRIPTION_CONFIRMED', taskId: 't1', replayStartedAfterEventId: frame.lastEventId, live: false }));
        socket.send(JSON.stringify({ type: 'HEARTBEAT', taskId: 't1', live: true }));
        for (const e of after(list, frame.lastEventId)) socket.send(JSON.stringify(e));
        socket.close(1000);
      });
    },
  });
  const { ids, states } = await follow(client(f), 't1', { after: 'e-a' });
  assert.deepEqual(ids, ['e-b', 'e-c', 'e-z']);
  assert.deepEqual(subscribes, [{ action: 'subscribe', taskId: 't1', lastEventId: 'e-a' }]);
  assert.deepEqual(path(states), ['websocket:connecting', 'websocket:open', 'websocket:ended']);
  assert.equal(states.at(-1)?.reason, 'TASK_COMPLETED');
});

test('a WebSocket refused while the API answers falls back to SSE, which resumes with Last-Event-ID', async () => {
  const list = events('t1', [10, 20, 30]);
  const f = await fake({ snapshot: running, sse: sseServing(list) });
  const { ids, states } = await follow(client(f), 't1', { after: 'e-b' });
  assert.deepEqual(ids, ['e-c', 'e-d', 'e-z']);
  assert.deepEqual(path(states), ['websocket:connecting', 'sse:connecting', 'sse:open', 'sse:ended']);
  const stream = f.seen.find((s) => s.path.endsWith('/events/stream'));
  assert.equal(stream?.headers['last-event-id'], 'e-b');
  assert.equal(stream?.headers.authorization, 'Bearer alice');
});

test('WebSocket and SSE refused: long polls deliver everything in order, once, and end at the terminal event', async () => {
  const list = events('t1', [10, 20, 30, 40]);
  const f = await fake({
    snapshot: running,
    sse: (_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<h1>Bad gateway</h1>');
    },
    poll: (_req, res, seen) => {
      const batch = after(list, seen.query.get('afterEventId')).slice(0, 2); // two at a time
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ taskId: 't1', events: batch, nextAfterEventId: batch.at(-1)?.eventId ?? null, hasMore: false }));
    },
  });
  const { ids, states } = await follow(client(f), 't1');
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.deepEqual(path(states), ['websocket:connecting', 'sse:connecting', 'poll:connecting', 'poll:open', 'poll:ended']);
  assert.deepEqual(f.seen.filter((s) => s.path.endsWith('/events')).map((s) => s.query.get('afterEventId')), [null, 'e-b', 'e-d']);
});

test('a WebSocket that fails while the server is unreachable is retried, not abandoned', async () => {
  let probes = 0;
  const list = events('t1', [10]);
  const f = await fake({
    snapshot: (req) => {
      probes++;
      req.socket.destroy(); // as if the network were down
    },
    upgrade: () => probes > 0, // the first attempt fails before it opens
    ws: (socket) => {
      socket.on('message', () => {
        socket.send(JSON.stringify({ type: 'SUBSCRIPTION_CONFIRMED', taskId: 't1', replayStartedAfterEventId: null, live: false }));
        for (const e of list) socket.send(JSON.stringify(e));
        socket.close(1000);
      });
    },
  });
  const { ids, states } = await follow(client(f), 't1');
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.equal(probes, 1);
  assert.deepEqual([...new Set(states.map((s) => s.transport))], ['websocket']);
  assert.ok(states.some((s) => s.status === 'retrying'), 'it waited before trying again');
});

test('a WebSocket that keeps closing before it confirms is left for SSE after fallbackAfter tries', async () => {
  const list = events('t1', [10]);
  let sockets = 0;
  const f = await fake({
    ws: (socket) => {
      sockets++;
      socket.close(1011, 'upstream gone'); // accepted, then closed before any frame
    },
    sse: sseServing(list),
  });
  const { ids, states } = await follow(client(f), 't1', { fallbackAfter: 3 });
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.equal(sockets, 3);
  assert.deepEqual([...new Set(states.map((s) => s.transport))], ['websocket', 'sse']);
});

test('an event handed over twice is delivered once', async () => {
  const list = events('t1', [10, 20]);
  const f = await fake({
    sse: (_req, res) => {
      sseHead(res);
      for (const e of [list[0]!, list[1]!, list[0]!, list[1]!, list[2]!, list[3]!]) sseEvent(res, e);
      res.end();
    },
  });
  const { ids } = await follow(client(f), 't1', { transports: ['sse'] });
  assert.deepEqual(ids, list.map((e) => e.eventId));
});

test('a connection silent past the heartbeat timeout is replaced, resuming after the last event', async () => {
  const list = events('t1', [10, 20, 30]);
  let connections = 0;
  const f = await fake({
    sse: (req, res) => {
      connections++;
      sseHead(res);
      const rest = after(list, req.headers['last-event-id'] as string | undefined);
      if (connections === 1) {
        for (const e of rest.slice(0, 2)) sseEvent(res, e); // then silence, connection open
        return;
      }
      for (const e of rest) sseEvent(res, e);
      res.end();
    },
  });
  const { ids, states } = await follow(client(f), 't1', { transports: ['sse'], heartbeatTimeoutMs: 150 });
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.equal(connections, 2);
  assert.match(states.find((s) => s.status === 'retrying')?.reason ?? '', /no event or heartbeat for 150 ms/);
  assert.deepEqual(f.seen.filter((s) => s.path.endsWith('/stream')).map((s) => s.headers['last-event-id']), [undefined, 'e-b']);
});

test('a consumer slower than the heartbeat timeout does not cut the connection', async () => {
  const list = events('t1', [10]);
  let connections = 0;
  const f = await fake({
    sse: (req, res) => {
      connections++;
      sseHead(res);
      const rest = after(list, req.headers['last-event-id'] as string | undefined);
      sseEvent(res, rest[0]!);
      const later = setTimeout(() => {
        for (const e of rest.slice(1)) sseEvent(res, e);
        res.end();
      }, 450);
      req.socket.on('close', () => clearTimeout(later));
    },
  });
  const ids: string[] = [];
  for await (const e of client(f).follow('t1', { ...quick, transports: ['sse'], heartbeatTimeoutMs: 150 })) {
    ids.push(e.eventId);
    if (ids.length === 1) await new Promise((r) => setTimeout(r, 400)); // a person deciding
  }
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.equal(connections, 1);
});

test('an aborted signal ends the follow before it connects', async () => {
  const f = await fake({});
  const stop = new AbortController();
  stop.abort();
  const ids: string[] = [];
  for await (const e of client(f).follow('t1', { ...quick, signal: stop.signal })) ids.push(e.eventId);
  assert.deepEqual(ids, []);
  assert.equal(f.seen.length, 0);
});

test('heartbeats keep a quiet connection alive', async () => {
  const list = events('t1', []);
  let connections = 0;
  const f = await fake({
    sse: (_req, res) => {
      connections++;
      sseHead(res);
      let beats = 0;
      const timer = setInterval(() => {
        if (++beats <= 8) {
          res.write(beats % 2 ? ': ping\n\n' : `data: ${JSON.stringify({ type: 'HEARTBEAT', taskId: 't1', eventId: 'hb-1', createdAt: '', payload: { live: true } })}\n\n`);
          return;
        }
        clearInterval(timer);
        for (const e of list) sseEvent(res, e);
        res.end();
      }, 40);
    },
  });
  const { ids } = await follow(client(f), 't1', { transports: ['sse'], heartbeatTimeoutMs: 250 });
  assert.deepEqual(ids, ['e-a', 'e-z']);
  assert.equal(connections, 1);
});

test('a 401 on a stream asks the token provider for a fresh token, then resumes', async () => {
  const list = events('t1', [10]);
  const asked: boolean[] = [];
  const f = await fake({
    sse: (req, res) => {
      if (req.headers.authorization !== 'Bearer fresh') return envelope(res, 401, 'AUTHENTICATION_ERROR', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      sseServing(list)!(req, res, f.seen.at(-1)!);
    },
  });
  const token: TokenProvider = ({ refresh }) => {
    asked.push(refresh);
    return refresh ? 'fresh' : 'stale';
  };
  const { ids } = await follow(client(f, token), 't1', { transports: ['sse'] });
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.deepEqual(asked, [false, true]);
});

test('a WebSocket closed for AUTHENTICATION_ERROR refreshes the token and subscribes again', async () => {
  const list = events('t1', [10]);
  const f = await fake({
    ws: (socket, seen) => {
      socket.on('message', () => {
        if (seen.query.get('access_token') !== 'fresh') return socket.close(1008, 'AUTHENTICATION_ERROR: the token expired');
        socket.send(JSON.stringify({ type: 'SUBSCRIPTION_CONFIRMED', taskId: 't1', replayStartedAfterEventId: null, live: false }));
        for (const e of list) socket.send(JSON.stringify(e));
        socket.close(1000);
      });
    },
  });
  const { ids, states } = await follow(client(f, ({ refresh }) => (refresh ? 'fresh' : 'stale')), 't1');
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.deepEqual([...new Set(states.map((s) => s.transport))], ['websocket']);
});

test('a fixed token the server refuses ends the follow with the 401', async () => {
  const f = await fake({ sse: (_req, res) => envelope(res, 401, 'AUTHENTICATION_ERROR') });
  await assert.rejects(follow(client(f, 'expired'), 't1', { transports: ['sse'] }), (err: unknown) => err instanceof TaskBridgeError && err.status === 401);
});

test('a missing task ends the follow with TaskBridgeError TASK_NOT_FOUND, and the state says failed', async () => {
  const f = await fake({ snapshot: (_req, res) => envelope(res, 404, 'TASK_NOT_FOUND'), sse: (_req, res) => envelope(res, 404, 'TASK_NOT_FOUND') });
  const states: FollowState[] = [];
  const c = client(f);
  await assert.rejects(
    (async () => {
      for await (const _ of c.follow('nope', { ...quick, onState: (s) => states.push(s) })) assert.fail('no event');
    })(),
    (err: unknown) => err instanceof TaskBridgeError && err.code === 'TASK_NOT_FOUND',
  );
  assert.equal(states.at(-1)?.status, 'failed');
  assert.equal(f.seen.filter((s) => s.path.endsWith('/stream')).length, 0, 'the WebSocket probe found the task missing: no other transport was tried');
});

test('SSE 204 (the cursor is at the end) ends the follow with nothing more', async () => {
  const f = await fake({
    sse: (_req, res) => {
      res.writeHead(204);
      res.end();
    },
  });
  const { ids, states } = await follow(client(f), 't1', { transports: ['sse'], after: 'e-z' });
  assert.deepEqual(ids, []);
  assert.deepEqual(path(states), ['sse:connecting', 'sse:ended']);
});

test('429 waits at least Retry-After before the next attempt', async () => {
  const list = events('t1', []);
  let n = 0;
  const f = await fake({
    sse: (req, res) => {
      if (n++ === 0) return envelope(res, 429, 'TOO_MANY_REQUESTS', { 'Retry-After': '0.3' });
      sseServing(list)!(req, res, f.seen.at(-1)!);
    },
  });
  const { ids, states } = await follow(client(f), 't1', { transports: ['sse'] });
  assert.deepEqual(ids, ['e-a', 'e-z']);
  const retry = states.find((s) => s.status === 'retrying');
  assert.ok((retry?.retryInMs ?? 0) >= 300, `retryInMs ${retry?.retryInMs}`);
});

test('the signal ends the follow and closes its connection', async () => {
  const list = events('t1', [1, 2, 3]);
  let closed!: () => void;
  const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
  const f = await fake({
    sse: (req, res) => {
      sseHead(res);
      sseEvent(res, list[0]!);
      req.socket.on('close', closed);
    },
  });
  const stop = new AbortController();
  const ids: string[] = [];
  const follow = client(f).follow('t1', { ...quick, transports: ['sse'], signal: stop.signal });
  for await (const e of follow) {
    ids.push(e.eventId);
    stop.abort();
  }
  assert.deepEqual(ids, ['e-a']);
  await connectionClosed;
  assert.equal(follow.state.status, 'ended');
});

test('a checkpoint lets a new follow resume after the last event delivered', async () => {
  const list = events('t1', [10, 20, 30]);
  const f = await fake({ sse: sseServing(list) });
  const checkpoint = memoryCheckpoints();
  const first: string[] = [];
  for await (const e of client(f).follow('t1', { ...quick, transports: ['sse'], checkpoint })) {
    first.push(e.eventId);
    if (first.length === 2) break; // the page reloads
  }
  assert.equal(await checkpoint.get('t1'), 'e-b');
  const { ids } = await follow(client(f), 't1', { transports: ['sse'], checkpoint });
  assert.deepEqual([...first, ...ids], list.map((e) => e.eventId));
  assert.equal(await checkpoint.get('t1'), 'e-z');
});

test('after falling back, the preferred transport is tried again after the quiet period', async () => {
  const list = events('t1', [10, 20, 30, 40]);
  let upgrades = 0;
  const f = await fake({
    snapshot: running,
    upgrade: () => ++upgrades > 1, // refused the first time only
    ws: (socket) => {
      socket.on('message', (data) => {
        const { lastEventId } = JSON.parse(String(data)) as { lastEventId: string | null };
        socket.send(JSON.stringify({ type: 'SUBSCRIPTION_CONFIRMED', taskId: 't1', replayStartedAfterEventId: lastEventId, live: false }));
        for (const e of after(list, lastEventId)) socket.send(JSON.stringify(e));
        socket.close(1000);
      });
    },
    sse: (req, res) => {
      sseHead(res);
      for (const e of after(list, req.headers['last-event-id'] as string | undefined).slice(0, 2)) sseEvent(res, e);
      const beat = setInterval(() => res.write(': ping\n\n'), 20); // alive, but nothing more comes here
      req.socket.on('close', () => clearInterval(beat));
    },
  });
  const { ids, states } = await follow(client(f), 't1', { preferredRetryMs: 200 });
  assert.deepEqual(ids, list.map((e) => e.eventId));
  assert.deepEqual(
    path(states).filter((s) => s.endsWith(':open')),
    ['sse:open', 'websocket:open'],
  );
});

test('a long poll answered empty asks the snapshot, and ends when the task ended at the cursor', async () => {
  const f = await fake({
    poll: (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ taskId: 't1', events: [], nextAfterEventId: 'e-z', hasMore: false }));
    },
    snapshot: (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'COMPLETED', lastEventId: 'e-z' }));
    },
  });
  const { ids, states } = await follow(client(f), 't1', { transports: ['poll'], after: 'e-z' });
  assert.deepEqual(ids, []);
  assert.equal(states.at(-1)?.status, 'ended');
});

test('watch pushes events and ends with the terminal one', async () => {
  const list = events('t1', [50]);
  const f = await fake({ sse: sseServing(list) });
  const seen: string[] = [];
  let ended: TaskEvent | undefined;
  const w = client(f).watch('t1', { onEvent: (e) => seen.push(e.type), onEnd: (t) => (ended = t) }, { ...quick, transports: ['sse'] });
  const terminal = await w.done;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['TASK_STARTED', 'TASK_PROGRESS', 'TASK_COMPLETED']);
  assert.equal(terminal?.type, 'TASK_COMPLETED');
  assert.equal(ended, terminal);
});
