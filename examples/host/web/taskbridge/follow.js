// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
import { backoffDelay, sleep } from './backoff.js';
import { RecentIds } from './dedupe.js';
import { TaskBridgeError } from './errors.js';
import { StreamFailure, transports as builtin } from './transports.js';
import { isTerminal } from './types.js';
/**
 * Stops a connection: follow() aborts it with one of these as the reason.
 * retry says what comes next: the same transport at once, after a backoff,
 * or, for a connection that never opened, the next transport.
 */
class Cut extends Error {
    retry;
    constructor(message, retry) {
        super(message);
        this.retry = retry;
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
export class TaskFollow {
    #client;
    #taskId;
    #options;
    #stop = new AbortController();
    #state;
    #started = false;
    constructor(client, taskId, options) {
        this.#client = client;
        this.#taskId = taskId;
        this.#options = options;
        const order = options.transports ?? ['websocket', 'sse', 'poll'];
        if (order.length === 0)
            throw new TypeError('follow: transports is empty');
        for (const name of order)
            if (!(name in builtin))
                throw new TypeError(`follow: unknown transport ${name}`);
        if (options.signal?.aborted)
            this.close();
        else
            options.signal?.addEventListener('abort', () => this.close(), { once: true });
        this.#state = { transport: order[0], status: 'connecting', lastEventId: null, attempt: 0 };
    }
    /** The current state. */
    get state() {
        return this.#state;
    }
    /** Stops following: the iterator ends and its connection closes. */
    close() {
        this.#stop.abort(new Cut('closed', 'at once'));
    }
    [Symbol.asyncIterator]() {
        if (this.#started)
            throw new Error('follow: a TaskFollow is iterated once; call follow() again');
        this.#started = true;
        return this.#run();
    }
    /** Pushes the events to handlers instead of being iterated. */
    watch(handlers) {
        const done = (async () => {
            let terminal;
            for await (const event of this) {
                handlers.onEvent(event);
                if (isTerminal(event))
                    terminal = event;
            }
            return terminal;
        })();
        done.then((terminal) => handlers.onEnd?.(terminal), (error) => handlers.onError?.(error));
        return { close: () => this.close(), done };
    }
    #set(next) {
        this.#state = { ...this.#state, reason: undefined, retryInMs: undefined, error: undefined, ...next };
        this.#options.onState?.(this.#state);
    }
    async *#run() {
        const o = this.#options;
        const route = new Route(o.transports ?? ['websocket', 'sse', 'poll'], Math.max(1, o.fallbackAfter ?? 3), o.preferredRetryMs ?? 60_000);
        const seen = new RecentIds(o.dedupeWindow);
        let after = o.after !== undefined ? o.after : ((await o.checkpoint?.get(this.#taskId)) ?? null);
        let attempt = 0;
        let why; // why the last connection ended
        while (!this.#stop.signal.aborted) {
            const name = route.current();
            this.#set({ transport: name, status: 'connecting', lastEventId: after, attempt, reason: why });
            const c = yield* this.#connection(name, after, seen, route);
            after = c.after;
            if (c.ended !== undefined) {
                this.#set({ status: 'ended', reason: c.ended });
                return;
            }
            if (this.#stop.signal.aborted)
                break;
            if (c.delivered > 0)
                attempt = 0;
            const next = await this.#afterFailure(c.failure, c.token, route.index === route.last, attempt);
            if (route.next(next.fallBack, c.opened, isTransient(c.failure)))
                next.delayMs = 0; // another transport: at once
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
    async *#connection(name, after, seen, route) {
        const o = this.#options;
        const heartbeatTimeoutMs = o.heartbeatTimeoutMs ?? 45_000;
        const cut = new AbortController();
        const stopCut = () => cut.abort(this.#stop.signal.reason);
        this.#stop.signal.addEventListener('abort', stopCut, { once: true });
        let opened = false;
        let delivered = 0;
        let token;
        const liveness = new Timer(heartbeatTimeoutMs, () => 
        // A connection that never opened in time may be held by a buffering proxy: another transport may pass.
        cut.abort(new Cut(`no ${opened ? 'event or heartbeat' : 'answer'} for ${heartbeatTimeoutMs} ms`, opened ? 'backoff' : 'fall back')));
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
                if (item.kind !== 'event' || !seen.add(item.event.eventId))
                    continue;
                after = item.event.eventId;
                delivered++;
                this.#state = { ...this.#state, lastEventId: after };
                await o.checkpoint?.set(this.#taskId, after);
                // The consumer's time is not the connection's silence.
                liveness.stop();
                yield item.event;
                liveness.reset();
                if (isTerminal(item.event))
                    return { after, ended: item.event.type, opened, delivered };
            }
            return { after, ended: 'the server ended the stream', opened, delivered };
        }
        catch (failure) {
            return { after, failure, token, opened, delivered };
        }
        finally {
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
    async #afterFailure(err, token, isLast, attempt) {
        const backoff = (n) => backoffDelay(n, this.#options.backoff);
        const stay = (delayMs, reason) => ({ fallBack: false, attempt: attempt + 1, delayMs, reason });
        if (err instanceof Cut && err.retry === 'at once')
            return { fallBack: false, attempt, delayMs: 0, reason: err.message };
        if (err instanceof Cut && err.retry === 'backoff')
            return stay(backoff(attempt), err.message);
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
                const fresh = await this.#client.credentials.refresh(token).catch((e) => this.#fail(e));
                if (fresh === undefined)
                    this.#fail(failure.details.cause ?? new TaskBridgeError(401, undefined));
                // A fresh token goes at once; a second refusal in a row waits.
                return stay(attempt === 0 ? 0 : backoff(attempt - 1), reason);
            }
            case 'fatal':
                return this.#fail(failure.details.cause ?? failure);
        }
    }
    #fail(error) {
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
    order;
    fallbackAfter;
    preferredRetryMs;
    index = 0;
    last;
    #fellBackAt = 0;
    #unopened = 0; // connections of the current transport in a row that failed before opening
    constructor(order, fallbackAfter, preferredRetryMs) {
        this.order = order;
        this.fallbackAfter = fallbackAfter;
        this.preferredRetryMs = preferredRetryMs;
        this.last = order.length - 1;
    }
    /** The preferred transport. */
    get preferred() {
        return this.order[0];
    }
    /** The transport to connect with now: the preferred one again once the quiet period passed. */
    current() {
        if (this.index > 0 && Date.now() - this.#fellBackAt >= this.preferredRetryMs)
            this.#move(0);
        return this.order[this.index];
    }
    /** With a fallback transport in use, how long until the preferred one is due again. */
    upgradeInMs() {
        return this.index > 0 ? this.#fellBackAt + this.preferredRetryMs - Date.now() : undefined;
    }
    /**
     * Records how a connection ended and moves down when told to, or when a
     * transient failure before opening happened fallbackAfter times in a
     * row. It returns whether it moved.
     */
    next(fallBack, opened, transient) {
        this.#unopened = opened ? 0 : this.#unopened + 1;
        const stuck = transient && this.#unopened >= this.fallbackAfter;
        if ((!fallBack && !stuck) || this.index >= this.last)
            return false;
        if (this.index === 0)
            this.#fellBackAt = Date.now();
        this.#move(this.index + 1);
        return true;
    }
    #move(index) {
        this.index = index;
        this.#unopened = 0;
    }
}
/** Reports whether a failure is one a retry may cure on another transport: a cut or a loss, not a refusal of the caller. */
function isTransient(failure) {
    return failure instanceof Cut || (failure instanceof StreamFailure && failure.kind === 'lost');
}
/** A restartable one-shot timer. */
class Timer {
    ms;
    fire;
    #handle;
    constructor(ms, fire) {
        this.ms = ms;
        this.fire = fire;
        this.reset();
    }
    reset() {
        this.stop();
        this.#handle = setTimeout(this.fire, Math.max(0, this.ms));
    }
    stop() {
        if (this.#handle !== undefined)
            clearTimeout(this.#handle);
        this.#handle = undefined;
    }
}
