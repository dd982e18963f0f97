import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import type { CheckpointStore } from './checkpoint.js';
import type { TaskBridgeClient } from './client.js';
import { RecentIds } from './dedupe.js';
import { TaskBridgeError } from './errors.js';
import { StreamFailure, transports as builtin, type TransportName } from './transports.js';
import { isTerminal, type EventId, type TaskEvent, type TaskId, type TerminalEvent } from './types.js';

/** How follow() follows a task. Every field has a default. */
export interface FollowOptions {
  /** Resume strictly after this event. Default: the checkpoint's, else from the start. */
  after?: EventId | null;
  /** The transports in order of preference; default websocket, sse, poll. */
  transports?: readonly TransportName[];
  /** Ends the follow: the iterator finishes and the connection closes. */
  signal?: AbortSignal;
  /** Where the last delivered eventId is kept, so that a new follow resumes after it. */
  checkpoint?: CheckpointStore;
  /**
   * A connection with no event and no heartbeat for this long is taken for
   * dead and replaced; default 45 s (the server heartbeats every 15 s on
   * SSE and 25 s on WebSocket).
   */
  heartbeatTimeoutMs?: number;
  /** The delays between attempts after failures. */
  backoff?: BackoffOptions;
  /**
   * How many connections in a row may fail before they open (no
   * SUBSCRIPTION_CONFIRMED, no 200, no first poll answer) before the next
   * transport is tried; default 3. A transport refused outright while the
   * server answers HTTP is left at once.
   */
  fallbackAfter?: number;
  /** After falling back, how long until the preferred transport is tried again; default 60 s. */
  preferredRetryMs?: number;
  /** How long one long poll may wait for an event, in ms; default 20 s, kept below heartbeatTimeoutMs. */
  pollWaitMs?: number;
  /** How many recent eventIds are remembered to drop a repeat; default 256. */
  dedupeWindow?: number;
  /** Called on every state change. */
  onState?: (state: FollowState) => void;
}

/** What a follow is doing, for a status line or a log. */
export interface FollowState {
  /** The transport in use or being tried. */
  transport: TransportName;
  /**
   * connecting: opening a connection; open: receiving; retrying: waiting
   * before the next attempt; ended: done (terminal event, server end or
   * abort); failed: gave up (see error).
   */
  status: 'connecting' | 'open' | 'retrying' | 'ended' | 'failed';
  /** The last delivered eventId; the next connection resumes after it. */
  lastEventId: EventId | null;
  /** Failed attempts in a row. */
  attempt: number;
  /** Why the last connection ended (with connecting and retrying), or why the follow ended. */
  reason?: string;
  /** With retrying: the wait before the next attempt. */
  retryInMs?: number;
  /** With failed: the error, a TaskBridgeError when the server refused the task. */
  error?: unknown;
}

/** Callbacks of watch(). */
export interface WatchHandlers {
  onEvent(event: TaskEvent): void;
  onState?(state: FollowState): void;
  /** Called once when the follow ends: with the terminal event when it was delivered. */
  onEnd?(terminal: TerminalEvent | undefined): void;
  /** Called once when the follow gives up. */
  onError?(error: unknown): void;
}

/** A running watch(). */
export interface Watch {
  /** Stops following. */
  close(): void;
  /** Resolves with the terminal event (undefined when the follow ended without one); rejects when it gave up. */
  done: Promise<TerminalEvent | undefined>;
}

/**
 * Stops a connection: follow() aborts it with one of these as the reason.
 * retry says what comes next: the same transport at once, after a backoff,
 * or, for a connection that never opened, the next transport.
 */
class Cut extends Error {
  constructor(
    message: string,
    readonly retry: 'backoff' | 'at once' | 'fall back',
  ) {
    super(message);
  }
}

/**
 * A task followed live: iterate it (once) for its events, in order and
 * exactly once, across reconnects and transport changes; it ends after the
 * terminal event, when the server says there is nothing more (the cursor
 * was at the end), or when close() or the signal stop it. It throws when
 * retrying cannot help: a TaskBridgeError for a task that is missing, not
 * the caller's, a cursor the server refuses, or a token the provider
 * cannot refresh.
 */
export class TaskFollow implements AsyncIterable<TaskEvent> {
  readonly #client: TaskBridgeClient<any>;
  readonly #taskId: TaskId;
  readonly #options: FollowOptions;
  readonly #stop = new AbortController();
  #state: FollowState;
  #started = false;

  constructor(client: TaskBridgeClient<any>, taskId: TaskId, options: FollowOptions) {
    this.#client = client;
    this.#taskId = taskId;
    this.#options = options;
    const order = options.transports ?? ['websocket', 'sse', 'poll'];
    if (order.length === 0) throw new TypeError('follow: transports is empty');
    for (const name of order) if (!(name in builtin)) throw new TypeError(`follow: unknown transport ${name}`);
    if (options.signal?.aborted) this.close();
    else options.signal?.addEventListener('abort', () => this.close(), { once: true });
    this.#state = { transport: order[0]!, status: 'connecting', lastEventId: null, attempt: 0 };
  }

  /** The current state. */
  get state(): FollowState {
    return this.#state;
  }

  /** Stops following: the iterator ends and its connection closes. */
  close(): void {
    this.#stop.abort(new Cut('closed', 'at once'));
  }

  [Symbol.asyncIterator](): AsyncIterator<TaskEvent> {
    if (this.#started) throw new Error('follow: a TaskFollow is iterated once; call follow() again');
    this.#started = true;
    return this.#run();
  }

  /** Pushes the events to handlers instead of being iterated. */
  watch(handlers: WatchHandlers): Watch {
    const done = (async () => {
      let terminal: TerminalEvent | undefined;
      for await (const event of this) {
        handlers.onEvent(event);
        if (isTerminal(event)) terminal = event;
      }
      return terminal;
    })();
    done.then(
      (terminal) => handlers.onEnd?.(terminal),
      (error: unknown) => handlers.onError?.(error),
    );
    return { close: () => this.close(), done };
  }

  #set(next: Partial<FollowState>): void {
    this.#state = { ...this.#state, reason: undefined, retryInMs: undefined, error: undefined, ...next };
    this.#options.onState?.(this.#state);
  }

  async *#run(): AsyncGenerator<TaskEvent, void, undefined> {
    const o = this.#options;
    const order = o.transports ?? ['websocket', 'sse', 'poll'];
    const heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 45_000;
    const pollWaitMs = Math.max(0, Math.min(o.pollWaitMs ?? 20_000, heartbeatTimeoutMs / 2));
    const preferredRetryMs = o.preferredRetryMs ?? 60_000;
    const seen = new RecentIds(o.dedupeWindow);
    let after = o.after !== undefined ? o.after : ((await o.checkpoint?.get(this.#taskId)) ?? null);
    const fallbackAfter = Math.max(1, o.fallbackAfter ?? 3);
    let index = 0; // into order
    let fellBackAt = 0;
    let attempt = 0;
    let unopened = 0; // connections of this transport in a row that failed before opening
    let why: string | undefined; // why the last connection ended
    while (!this.#stop.signal.aborted) {
      if (index > 0 && Date.now() - fellBackAt >= preferredRetryMs) {
        index = 0;
        unopened = 0;
      }
      const name = order[index]!;
      this.#set({ transport: name, status: 'connecting', lastEventId: after, attempt, reason: why });
      const cut = new AbortController();
      const stopCut = () => cut.abort(this.#stop.signal.reason);
      this.#stop.signal.addEventListener('abort', stopCut, { once: true });
      let opened = false;
      const liveness = new Timer(heartbeatTimeoutMs, () =>
        // A connection that never opened in time may be held by a buffering proxy: another transport may pass.
        cut.abort(new Cut(`no ${opened ? 'event or heartbeat' : 'answer'} for ${heartbeatTimeoutMs} ms`, opened ? 'backoff' : 'fall back')),
      );
      const upgrade = index > 0 ? new Timer(fellBackAt + preferredRetryMs - Date.now(), () => cut.abort(new Cut(`trying ${order[0]} again`, 'at once'))) : undefined;
      let delivered = 0;
      let failure: unknown;
      let token: string | undefined;
      try {
        token = await this.#client.credentials.get();
        for await (const item of builtin[name]({ client: this.#client, taskId: this.#taskId, after, token, signal: cut.signal, pollWaitMs })) {
          liveness.reset();
          if (item.kind === 'open') {
            opened = true;
            this.#set({ status: 'open' });
            continue;
          }
          if (item.kind !== 'event' || !seen.add(item.event.eventId)) continue;
          after = item.event.eventId;
          delivered++;
          this.#state = { ...this.#state, lastEventId: after };
          await o.checkpoint?.set(this.#taskId, after);
          // The consumer's time is not the connection's silence.
          liveness.stop();
          yield item.event;
          liveness.reset();
          if (isTerminal(item.event)) {
            this.#set({ status: 'ended', reason: item.event.type });
            return;
          }
        }
        this.#set({ status: 'ended', reason: 'the server ended the stream' });
        return;
      } catch (err) {
        failure = err;
      } finally {
        liveness.stop();
        upgrade?.stop();
        this.#stop.signal.removeEventListener('abort', stopCut);
        cut.abort(new Cut('done', 'at once'));
      }
      if (this.#stop.signal.aborted) break;
      if (delivered > 0) attempt = 0;
      unopened = opened ? 0 : unopened + 1;
      const next = await this.#afterFailure(failure, token, index, order.length, attempt);
      if (next.index === index && unopened >= fallbackAfter && index + 1 < order.length && isTransient(failure)) {
        next.index = index + 1; // it keeps failing before it opens: maybe blocked on the way
        next.delayMs = 0;
      }
      if (next.index !== index) {
        if (index === 0) fellBackAt = Date.now();
        index = next.index;
        unopened = 0;
      }
      attempt = next.attempt;
      why = next.reason;
      if (next.delayMs > 0) {
        this.#set({ status: 'retrying', reason: next.reason, retryInMs: next.delayMs });
        await sleep(next.delayMs, this.#stop.signal);
      }
    }
    this.#set({ status: 'ended', reason: 'closed' });
  }

  /** Decides what follows a failed connection; throws when nothing can help. */
  async #afterFailure(err: unknown, token: string | undefined, index: number, count: number, attempt: number): Promise<{ index: number; attempt: number; delayMs: number; reason: string }> {
    const backoff = (n: number) => backoffDelay(n, this.#options.backoff);
    if (err instanceof Cut && err.retry === 'at once') return { index, attempt, delayMs: 0, reason: err.message };
    if (err instanceof Cut && err.retry === 'backoff') return { index, attempt: attempt + 1, delayMs: backoff(attempt), reason: err.message };
    const failure = err instanceof Cut ? new StreamFailure('refused', err.message) : err instanceof StreamFailure ? err : this.#fail(err);
    const reason = failure.message;
    switch (failure.kind) {
      case 'refused':
        // Another transport may get through: move down at once; at the last, wait.
        if (index + 1 < count) return { index: index + 1, attempt, delayMs: 0, reason };
        return { index, attempt: attempt + 1, delayMs: backoff(attempt), reason };
      case 'lost':
        return { index, attempt: attempt + 1, delayMs: backoff(attempt), reason };
      case 'throttled':
        return { index, attempt: attempt + 1, delayMs: Math.max(failure.details.retryAfterMs ?? 0, backoff(attempt)), reason };
      case 'unauthorized': {
        const fresh = await this.#client.credentials.refresh(token).catch((e: unknown) => this.#fail(e));
        if (fresh === undefined) this.#fail(failure.details.cause ?? new TaskBridgeError(401, undefined));
        // A fresh token goes at once; a second refusal in a row waits.
        return { index, attempt: attempt + 1, delayMs: attempt === 0 ? 0 : backoff(attempt - 1), reason };
      }
      case 'fatal':
        return this.#fail(failure.details.cause ?? failure);
    }
  }

  #fail(error: unknown): never {
    this.#set({ status: 'failed', error, reason: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

/** Reports whether a failure is one a retry may cure on another transport: a cut or a loss, not a refusal of the caller. */
function isTransient(failure: unknown): boolean {
  return failure instanceof Cut || (failure instanceof StreamFailure && failure.kind === 'lost');
}

/** A restartable one-shot timer. */
class Timer {
  #handle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ms: number,
    readonly fire: () => void,
  ) {
    this.reset();
  }

  reset(): void {
    this.stop();
    this.#handle = setTimeout(this.fire, Math.max(0, this.ms));
  }

  stop(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
