// The three ways to follow a task. Each is an async generator of stream
// items over one connection: it ends normally when the server says there
// is nothing more to send, and throws a StreamFailure otherwise, saying
// whether to retry, fall back, refresh the token or give up. Resuming,
// deduplicating, liveness and backoff are follow()'s, not theirs.
import type { Credentials } from './auth.js';
import type { RequestSpec } from './client.js';
import { taskPath } from './paths.js';
import { errorFromClose, errorFromResponse } from './errors.js';
import { parseSse } from './sse.js';
import { CloseCode, isTerminal, type EventId, type ErrorCode, type TaskEvent, type TaskId } from './types.js';

/** A transport's name, in the default order of preference. */
export type TransportName = 'websocket' | 'sse' | 'poll';

/** What one connection hands follow(). */
export type StreamItem =
  | { kind: 'open' } // the server accepted the subscription
  | { kind: 'event'; event: TaskEvent }
  | { kind: 'heartbeat' }; // the connection is alive

/**
 * How a connection failed:
 * - refused: it never got going while the server is reachable (the
 *   transport may be blocked on the way): fall back to the next transport;
 * - lost: it was cut, the network is down, or the server is briefly
 *   unable: retry after a backoff;
 * - unauthorized: the token was refused: refresh it and retry;
 * - throttled: the server said too many: retry after Retry-After;
 * - fatal: retrying cannot help (no such task, not the caller's, a bad cursor).
 */
export type FailureKind = 'refused' | 'lost' | 'unauthorized' | 'throttled' | 'fatal';

/** Why a connection ended without the server ending the stream. */
export class StreamFailure extends Error {
  override readonly name = 'StreamFailure';

  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly details: { code?: ErrorCode | string; status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
  }
}

/** What the transports need of a client: TaskBridgeClient has it all. */
export interface StreamClient {
  readonly credentials: Credentials;
  readonly WebSocket: WebSocketConstructor | undefined;
  url(path: string, query?: RequestSpec['query']): URL;
  request(spec: RequestSpec): Promise<Response>;
}

/** One connection's inputs. */
export interface Connection {
  client: StreamClient;
  taskId: TaskId;
  /** Resume strictly after this event; null for the start. */
  after: EventId | null;
  token: string | undefined;
  /** Aborted to end the connection; its reason is what the generator throws. */
  signal: AbortSignal;
  /** How long a long poll may wait, in ms. */
  pollWaitMs: number;
}

/** Opens one connection of a transport. */
export type Transport = (conn: Connection) => AsyncGenerator<StreamItem, void, undefined>;

/** The part of the WebSocket API the client uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The transports by name. */
export const transports: Readonly<Record<TransportName, Transport>> = { websocket, sse, poll };

/** The error codes after which a stream of this task cannot succeed. */
const fatalCodes: ReadonlySet<string> = new Set<ErrorCode>(['TASK_NOT_FOUND', 'TASK_OWNERSHIP_ERROR', 'INVALID_REQUEST', 'REQUEST_VALIDATION_ERROR']);

/** Classifies an error envelope's code (undefined: no envelope, say a proxy's page). */
function kindOfCode(code: string | undefined, status: number): FailureKind {
  if (code === undefined) return status === 401 ? 'unauthorized' : status === 429 ? 'throttled' : 'refused';
  if (code === 'AUTHENTICATION_ERROR') return 'unauthorized';
  if (code === 'TOO_MANY_REQUESTS') return 'throttled';
  if (fatalCodes.has(code)) return 'fatal';
  if (code === 'ROUTE_NOT_FOUND' || code === 'METHOD_NOT_ALLOWED') return 'refused';
  return 'lost';
}

/** Turns a non-2xx answer into a StreamFailure that keeps the TaskBridgeError as its cause. */
async function failureOf(res: Response): Promise<StreamFailure> {
  const err = await errorFromResponse(res);
  return new StreamFailure(kindOfCode(err.code, err.status), err.message, { code: err.code, status: err.status, retryAfterMs: err.retryAfterMs, cause: err });
}

/** The error to throw once conn.signal aborted: its reason, so follow() knows why it cut. */
function abortReason(conn: Connection, err: unknown): unknown {
  return conn.signal.aborted ? conn.signal.reason : err;
}

/** Sends one request, turning a network failure into `kind`. */
async function send(conn: Connection, spec: RequestSpec, kind: FailureKind): Promise<Response> {
  try {
    return await conn.client.request({ ...spec, token: conn.token, refreshOn401: false, signal: conn.signal });
  } catch (err) {
    throw abortReason(conn, new StreamFailure(kind, `${spec.method} ${spec.path}: ${String(err)}`, { cause: err }));
  }
}

/** Server-Sent Events over fetch, so that the token goes in a header and every status is seen. */
export async function* sse(conn: Connection): AsyncGenerator<StreamItem, void, undefined> {
  const headers: Record<string, string> = {};
  if (conn.after !== null) headers['Last-Event-ID'] = conn.after;
  const res = await send(conn, { method: 'GET', path: `${taskPath(conn.taskId)}/events/stream`, accept: 'text/event-stream', headers }, 'lost');
  if (res.status === 204) return; // the cursor is at the terminal event: nothing more will come
  if (!res.ok) throw await failureOf(res);
  if (!res.headers.get('Content-Type')?.startsWith('text/event-stream') || res.body === null) {
    await res.body?.cancel();
    throw new StreamFailure('refused', `the event stream answered ${res.headers.get('Content-Type') ?? 'no content type'}`);
  }
  yield { kind: 'open' };
  const reader = res.body.getReader();
  try {
    for await (const message of parseSse(reader)) {
      if (message.kind === 'comment') {
        yield { kind: 'heartbeat' };
        continue;
      }
      const frame = parseFrame(message.data);
      if (frame.type === 'HEARTBEAT') yield { kind: 'heartbeat' };
      else yield { kind: 'event', event: frame as TaskEvent };
    }
  } catch (err) {
    throw abortReason(conn, err instanceof StreamFailure ? err : new StreamFailure('lost', `the event stream broke: ${String(err)}`, { cause: err }));
  } finally {
    reader.cancel().catch(() => {});
  }
  throw abortReason(conn, new StreamFailure('lost', 'the event stream ended before the terminal event'));
}

/** Long polls: each answer's last event is the next cursor; an empty answer is a heartbeat. */
export async function* poll(conn: Connection): AsyncGenerator<StreamItem, void, undefined> {
  let after = conn.after;
  let opened = false;
  for (;;) {
    const res = await send(conn, { method: 'GET', path: `${taskPath(conn.taskId)}/events`, query: { afterEventId: after, waitTimeoutMs: conn.pollWaitMs } }, 'lost');
    if (!res.ok) throw await failureOf(res);
    const batch = (await res.json()) as { events: TaskEvent[]; hasMore: boolean };
    if (!opened) {
      opened = true;
      yield { kind: 'open' };
    }
    for (const event of batch.events) {
      after = event.eventId;
      yield { kind: 'event', event };
      if (isTerminal(event)) return;
    }
    if (batch.events.length === 0) {
      if (await endedAt(conn, after)) return;
      yield { kind: 'heartbeat' };
    }
  }
}

/**
 * Reports whether the task has ended with `after` as its last event: a
 * poll answers at once, empty, when the task has ended and the cursor is
 * at its end, so an empty answer asks the snapshot.
 */
async function endedAt(conn: Connection, after: EventId | null): Promise<boolean> {
  const res = await send(conn, { method: 'GET', path: taskPath(conn.taskId) }, 'lost');
  if (!res.ok) throw await failureOf(res);
  const snapshot = (await res.json()) as { status: string; lastEventId: EventId | null };
  const ended = snapshot.status === 'COMPLETED' || snapshot.status === 'FAILED' || snapshot.status === 'CANCELLED';
  return ended && snapshot.lastEventId === after;
}

/**
 * The WebSocket: one subscribe frame, then SUBSCRIPTION_CONFIRMED, events
 * and heartbeats. Browsers cannot set headers on a WebSocket, so the token
 * travels as access_token in the URL.
 */
export async function* websocket(conn: Connection): AsyncGenerator<StreamItem, void, undefined> {
  const WebSocketClass = conn.client.WebSocket;
  if (WebSocketClass === undefined) throw new StreamFailure('refused', 'no WebSocket class: pass options.WebSocket');
  const url = conn.client.url('/api/v1/tasks/ws', { access_token: conn.token });
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const items = new Channel<StreamItem>();
  let opened = false;
  let socket: WebSocketLike;
  try {
    socket = new WebSocketClass(url.toString());
  } catch (err) {
    throw new StreamFailure('refused', `cannot open a WebSocket: ${String(err)}`, { cause: err });
  }
  socket.onopen = () => {
    opened = true;
    socket.send(JSON.stringify({ action: 'subscribe', taskId: conn.taskId, lastEventId: conn.after }));
  };
  socket.onmessage = ({ data }) => {
    try {
      const frame = parseFrame(typeof data === 'string' ? data : new TextDecoder().decode(data as Uint8Array));
      if (frame.type === 'SUBSCRIPTION_CONFIRMED') items.push({ kind: 'open' });
      else if (frame.type === 'HEARTBEAT') items.push({ kind: 'heartbeat' });
      else items.push({ kind: 'event', event: frame as TaskEvent });
    } catch (err) {
      items.fail(err);
      socket.close(CloseCode.PolicyViolation, 'unreadable frame');
    }
  };
  socket.onerror = () => {}; // onclose follows with the code
  socket.onclose = ({ code, reason }) => {
    const failure = closeFailure(code, reason, opened);
    if (failure === undefined) items.end();
    else items.fail(failure);
  };
  const onAbort = () => items.fail(conn.signal.reason);
  conn.signal.addEventListener('abort', onAbort, { once: true });
  try {
    yield* items;
  } catch (err) {
    if (err instanceof StreamFailure && err.kind === 'refused') throw await probe(conn, err);
    throw err;
  } finally {
    conn.signal.removeEventListener('abort', onAbort);
    if (socket.readyState <= 1) socket.close(1000, 'done');
  }
}

/**
 * Finds out why a WebSocket failed before it opened. A browser does not say
 * (no status, no body), so the same token asks for the task's snapshot: a
 * refusal there (401, 404, 429) is the reason; a network failure means the
 * client is offline (retry, do not fall back); an answer means the
 * WebSocket itself is blocked on the way, and the next transport may pass.
 */
async function probe(conn: Connection, refused: StreamFailure): Promise<StreamFailure> {
  const res = await send(conn, { method: 'GET', path: taskPath(conn.taskId) }, 'lost');
  if (!res.ok) return failureOf(res);
  await res.body?.cancel();
  return refused;
}

/** What a close code means: undefined when the server ended the stream. */
function closeFailure(code: number, reason: string, opened: boolean): StreamFailure | undefined {
  if (code === CloseCode.NormalClosure) return undefined;
  const said = `WebSocket closed ${code}${reason ? `: ${reason}` : ''}`;
  if (code === CloseCode.PolicyViolation || code === CloseCode.MessageTooBig) {
    const err = errorFromClose(code, reason);
    const kind = code === CloseCode.PolicyViolation && err.code !== undefined ? kindOfCode(err.code, 400) : 'fatal';
    return new StreamFailure(kind, said, { code: err.code, cause: err });
  }
  return new StreamFailure(opened ? 'lost' : 'refused', said);
}

/** Parses one frame's JSON; anything but an object with a string type is a broken stream. */
function parseFrame(text: string): { type: string; eventId?: string } {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    throw new StreamFailure('lost', 'a frame is not JSON', { cause: err });
  }
  if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') {
    throw new StreamFailure('lost', 'a frame has no type');
  }
  const typed = frame as { type: string; eventId?: unknown };
  if (typed.type !== 'HEARTBEAT' && typed.type !== 'SUBSCRIPTION_CONFIRMED' && typeof typed.eventId !== 'string') {
    throw new StreamFailure('lost', `a ${typed.type} frame has no eventId`);
  }
  return typed as { type: string; eventId?: string };
}

/**
 * Channel turns pushed values into an async iterable with one reader: a
 * WebSocket pushes, the transport's generator pulls. After end or fail,
 * pushes are dropped and the reader sees the end once the queue is empty.
 */
class Channel<T> implements AsyncIterable<T> {
  #queue: T[] = [];
  #closed = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  push(value: T): void {
    if (this.#closed) return;
    this.#queue.push(value);
    this.#notify();
  }

  end(): void {
    this.#close(undefined);
  }

  fail(error: unknown): void {
    this.#close(error ?? new Error('failed'));
  }

  #close(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.#queue.length > 0) {
        yield this.#queue.shift() as T;
        continue;
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

