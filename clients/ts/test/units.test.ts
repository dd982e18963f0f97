import assert from 'node:assert/strict';
import { test } from 'node:test';

import { backoffDelay, Credentials, localStorageCheckpoints, memoryCheckpoints, RecentIds, TaskBridgeError } from '../src/index.js';
import { retryAfterMs } from '../src/errors.js';

test('backoff grows by its factor up to the cap, and jitter only takes off', () => {
  const fixed = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, fixed)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(2, { ...fixed, jitter: 0.5, random: () => 0.999999 }), 200);
  assert.equal(backoffDelay(2, { ...fixed, jitter: 0.5, random: () => 0 }), 400);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, { ...fixed, jitter: 0.5 });
    assert.ok(d >= 400 && d <= 800, `${d} is outside [400, 800]`);
  }
});

test('RecentIds drops a repeat within its window and forgets the oldest past it', () => {
  const ids = new RecentIds(3);
  assert.deepEqual(['1', '2', '3', '2'].map((id) => ids.add(id)), [true, true, true, false]);
  assert.equal(ids.add('4'), true); // evicts 1
  assert.equal(ids.add('1'), true);
  assert.equal(ids.add('4'), false);
  // Ids are compared as strings: "10" is not "9" + 1, and "010" is not "10".
  assert.equal(ids.add('010'), true);
});

test('Credentials asks the provider once, and refreshes once for everyone who saw the same refused token', async () => {
  const asked: boolean[] = [];
  let n = 0;
  const creds = new Credentials(async ({ refresh }) => {
    asked.push(refresh);
    await new Promise((r) => setTimeout(r, 5));
    return `token-${n++}`;
  });
  assert.deepEqual(await Promise.all([creds.get(), creds.get()]), ['token-0', 'token-0']);
  assert.deepEqual(await Promise.all([creds.refresh('token-0'), creds.refresh('token-0'), creds.refresh('token-0')]), ['token-1', 'token-1', 'token-1']);
  assert.equal(await creds.get(), 'token-1');
  assert.deepEqual(asked, [false, true]);
  // A stale refusal (the token was refreshed since) gets the fresh token without asking.
  assert.equal(await creds.refresh('token-0'), 'token-1');
  assert.deepEqual(asked, [false, true]);
});

test('Credentials cannot refresh a fixed token, nor one the provider gives again', async () => {
  assert.equal(await new Credentials('alice').refresh('alice'), undefined);
  assert.equal(await new Credentials(() => 'same').refresh('same'), undefined);
  assert.equal(await new Credentials(undefined).get(), undefined);
});

test('TaskBridgeError carries the envelope, and Retry-After is read in seconds or as a date', () => {
  const err = new TaskBridgeError(409, { code: 'IDEMPOTENCY_CONFLICT', message: 'used', details: { taskId: 't1' }, timestamp: '' });
  assert.equal(err.code, 'IDEMPOTENCY_CONFLICT');
  assert.deepEqual(err.details, { taskId: 't1' });
  assert.equal(err.message, '409 IDEMPOTENCY_CONFLICT: used');
  assert.deepEqual(new TaskBridgeError(502, undefined).details, {});
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 4000), 6000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

test('checkpoint stores keep one eventId per task, and a failing storage costs only the checkpoint', async () => {
  const items = new Map<string, string>();
  const storage = { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v), removeItem: (k: string) => void items.delete(k) };
  for (const store of [memoryCheckpoints(), localStorageCheckpoints(storage)]) {
    assert.equal((await store.get('t1')) ?? null, null);
    await store.set('t1', 'e-7');
    await store.set('t2', 'e-1');
    assert.equal(await store.get('t1'), 'e-7');
    await store.delete('t1');
    assert.equal((await store.get('t1')) ?? null, null);
    assert.equal(await store.get('t2'), 'e-1');
  }
  assert.deepEqual([...items.keys()], ['taskbridge:lastEventId:t2']);
  const full = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('quota'); }, removeItem: () => { throw new Error('denied'); } };
  const store = localStorageCheckpoints(full);
  assert.equal(store.get('t'), null);
  assert.doesNotThrow(() => store.set('t', 'e'));
});
