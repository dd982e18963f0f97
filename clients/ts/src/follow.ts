import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import type { CheckpointStore } from './checkpoint.js';
import { RecentIds } from './dedupe.js';
import { TaskBridgeError } from './errors.js';
import { StreamFailure, transports as builtin, type StreamClient, type TransportName } from './transports.js';
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
  /** Called on every change of transport or status (lastEventId moves on without a call). */
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
  readonly #client: StreamClient;
  readonly #taskId: TaskId;
  readonly #options: FollowOptions;
  readonly #stop = new AbortController();
  #state: FollowState;
  #started = false;

  constructor(client: StreamClient, taskId: TaskId, options: FollowOptions) {
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
    const route = new Route(o.transports ?? ['websocket', 'sse', 'poll'], Math.max(1, o.fallbackAfter ?? 3), o.preferredRetryMs ?? 60_000);
    const seen = new RecentIds(o.dedupeWindow);
    let after = o.after !== undefined ? o.after : ((await o.checkpoint?.get(this.#taskId)) ?? null);
    let attempt = 0;
    let why: string | undefined; // why the last connection ended
    while (!this.#stop.signal.aborted) {
      const name = route.current();
      this.#set({ transport: name, status: 'connecting', lastEventId: after, attempt, reason: why });
      const c = yield* this.#connection(name, after, seen, route);
      after = c.after;
      if (c.ended !== undefined) {
        this.#set({ status: 'ended', reason: c.ended });
        return;
      }
      if (this.#stop.signal.aborted) break;
      if (c.delivered > 0) attempt = 0;
      const next = await this.#afterFailure(c.failure, c.token, route.index === route.last, attempt);
      if (route.next(next.fallBack, c.opened, isTransient(c.failure))) next.delayMs = 0; // another transport: at once
      attempt = next.attempt;
      why = next.reason;
      if (next.delayMs > 0) {
        this.#set({ status: 'retrying', reason: next.reason, retryInMs: next.delayMs });
        await sleep(next.delayMs, this.#stop.signal);
      }
    }
    this.#set({ status: 'ended', reason: 'closed' });
  }

  /**
   * Follows over one connection of transport name, yielding each new event
   * (after the checkpoint), until it ends. It returns how: `ended` when the
   * follow is over (the terminal event, or the server's end of the stream),
   * else the failure and what the connection got done.
   */
  async *#connection(
    name: TransportName,
    after: EventId | null,
    seen: RecentIds,
    route: Route,
  ): AsyncGenerator<TaskEvent, { after: EventId | null; ended?: string; failure?: unknown; token?: string; opened: boolean; delivered: number }, undefined> {
    const o = this.#options;
    const heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 45_000;
    const cut = new AbortController();
    const stopCut = () => cut.abort(this.#stop.signal.reason);
    this.#stop.signal.addEventListener('abort', stopCut, { once: true });
    let opened = false;
    let delivered = 0;
    let token: string | undefined;
    const liveness = new Timer(heartbeatTimeoutMs, () =>
      // A connection that never opened in time may be held by a buffering proxy: another transport may pass.
      cut.abort(new Cut(`no ${opened ? 'event or heartbeat' : 'answer'} for ${heartbeatTimeoutMs} ms`, opened ? 'backoff' : 'fall back')),
    );
    const upgradeInMs = route.upgradeInMs();
    const upgrade = upgradeInMs === undefined ? undefined : new Timer(upgradeInMs, () => cut.abort(new Cut(`trying ${route.preferred} again`, 'at once')));
    try {
      token = await this.#client.credentials.get();
      const pollWaitMs = Math.max(0, Math.min(o.pollWaitMs ?? 20_000, heartbeatTimeoutMs / 2));
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
        if (isTerminal(item.event)) return { after, ended: item.event.type, opened, delivered };
      }
      return { after, ended: 'the server ended the stream', opened, delivered };
    } catch (failure) {
      return { after, failure, token, opened, delivered };
    } finally {
      liveness.stop();
      upgrade?.stop();
      this.#stop.signal.removeEventListener('abort', stopCut);
      cut.abort(new Cut('done', 'at once'));
    }
  }

  /**
   * Decides what follows a failed connection: whether to fall back to the
   * next transport, and how long to wait. It throws when nothing can help.
   */
  async #afterFailure(err: unknown, token: string | undefined, isLast: boolean, attempt: number): Promise<{ fallBack: boolean; attempt: number; delayMs: number; reason: string }> {
    const backoff = (n: number) => backoffDelay(n, this.#options.backoff);
    const stay = (delayMs: number, reason: string) => ({ fallBack: false, attempt: attempt + 1, delayMs, reason });
    if (err instanceof Cut && err.retry === 'at once') return { fallBack: false, attempt, delayMs: 0, reason: err.message };
    if (err instanceof Cut && err.retry === 'backoff') return stay(backoff(attempt), err.message);
    const failure = err instanceof Cut ? new StreamFailure('refused', err.message) : err instanceof StreamFailure ? err : this.#fail(err);
    const reason = failure.message;
    switch (failure.kind) {
      case 'refused':
        // Another transport may get through: move down at once; at the last, wait.
        return isLast ? stay(backoff(attempt), reason) : { fallBack: true, attempt, delayMs: 0, reason };
      case 'lost':
        return stay(backoff(attempt), reason);
      case 'throttled':
        return stay(Math.max(failure.details.retryAfterMs ?? 0, backoff(attempt)), reason);
      case 'unauthorized': {
        const fresh = await this.#client.credentials.refresh(token).catch((e: unknown) => this.#fail(e));
        if (fresh === undefined) this.#fail(failure.details.cause ?? new TaskBridgeError(401, undefined));
        // A fresh token goes at once; a second refusal in a row waits.
        return stay(attempt === 0 ? 0 : backoff(attempt - 1), reason);
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

/**
 * Route keeps which transport a follow uses: it moves down the order when
 * told to fall back, or when connections keep failing before they open,
 * and back to the preferred one after the quiet period.
 */
class Route {
  index = 0;
  readonly last: number;
  #fellBackAt = 0;
  #unopened = 0; // connections of the current transport in a row that failed before opening

  constructor(
    readonly order: readonly TransportName[],
    readonly fallbackAfter: number,
    readonly preferredRetryMs: number,
  ) {
    this.last = order.length - 1;
  }

  /** The preferred transport. */
  get preferred(): TransportName {
    return this.order[0]!;
  }

  /** The transport to connect with now: the preferred one again once the quiet period passed. */
  current(): TransportName {
    if (this.index > 0 && Date.now() - this.#fellBackAt >= this.preferredRetryMs) this.#move(0);
    return this.order[this.index]!;
  }

  /** With a fallback transport in use, how long until the preferred one is due again. */
  upgradeInMs(): number | undefined {
    return this.index > 0 ? this.#fellBackAt + this.preferredRetryMs - Date.now() : undefined;
  }

  /**
   * Records how a connection ended and moves down when told to, or when a
   * transient failure before opening happened fallbackAfter times in a
   * row. It returns whether it moved.
   */
  next(fallBack: boolean, opened: boolean, transient: boolean): boolean {
    this.#unopened = opened ? 0 : this.#unopened + 1;
    const stuck = transient && this.#unopened >= this.fallbackAfter;
    if ((!fallBack && !stuck) || this.index >= this.last) return false;
    if (this.index === 0) this.#fellBackAt = Date.now();
    this.#move(this.index + 1);
    return true;
  }

  #move(index: number): void {
    this.index = index;
    this.#unopened = 0;
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
