// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
import { Credentials } from './auth.js';
import { errorFromResponse } from './errors.js';
import { taskPath } from './paths.js';
import { TaskFollow } from './follow.js';
/**
 * A client of one TaskBridge server. TT is the host's task types, from its
 * merged contract (see TaskTypeMap); it types creates, results and action
 * payloads per taskType. Safe for concurrent use; it holds no connection
 * between calls.
 */
export class TaskBridgeClient {
    #base;
    #fetch;
    #headers;
    /** The token source shared by calls and streams. */
    credentials;
    /** The WebSocket class streams use, when there is one. */
    WebSocket;
    constructor(options) {
        this.#base = String(options.baseUrl).replace(/\/+$/, '');
        const f = options.fetch ?? globalThis.fetch;
        if (typeof f !== 'function')
            throw new TypeError('TaskBridgeClient: no fetch here; pass options.fetch');
        this.#fetch = f.bind(globalThis);
        this.#headers = { ...options.headers };
        this.credentials = new Credentials(options.token);
        this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    }
    /** The absolute URL of an API path, e.g. url('/api/v1/tasks'). */
    url(path, query = {}) {
        const url = new URL(this.#base + path);
        for (const [key, value] of Object.entries(query)) {
            if (value !== undefined && value !== null)
                url.searchParams.set(key, String(value));
        }
        return url;
    }
    /**
     * Creates a task (POST /api/v1/tasks): 201 for a new task, 200 with
     * `deduplicated: true` when clientRequestId was used before for the same
     * request. With attachments it is sent as multipart/form-data.
     */
    createTask(request, options = {}) {
        const files = options.attachments ?? [];
        if (files.length === 0) {
            return this.json({ method: 'POST', path: '/api/v1/tasks', json: request, signal: options.signal });
        }
        const form = new FormData();
        form.set('clientRequestId', request.clientRequestId);
        form.set('taskType', request.taskType);
        if (request.input !== undefined)
            form.set('input', JSON.stringify(request.input));
        if (request.metadata !== undefined)
            form.set('metadata', JSON.stringify(request.metadata));
        for (const file of files)
            form.append('attachments', file.data, file.name);
        return this.json({ method: 'POST', path: '/api/v1/tasks', form, signal: options.signal });
    }
    /** Reads a task's snapshot (GET /api/v1/tasks/{taskId}). */
    getTask(taskId, options = {}) {
        return this.json({ method: 'GET', path: taskPath(taskId), signal: options.signal });
    }
    /** Reads events strictly after a cursor, waiting up to waitTimeoutMs for a first one. */
    pollEvents(taskId, options = {}) {
        const { afterEventId, waitTimeoutMs, maxEvents, signal } = options;
        return this.json({ method: 'GET', path: `${taskPath(taskId)}/events`, query: { afterEventId, waitTimeoutMs, maxEvents }, signal });
    }
    /**
     * Asks the server to cancel a task; it ends with TASK_CANCELLED carrying
     * reason (cancelled_by_user without one). Cancelling an ended task is not
     * an error.
     */
    cancelTask(taskId, options = {}) {
        const json = options.reason === undefined ? {} : { reason: options.reason };
        return this.json({ method: 'POST', path: `${taskPath(taskId)}/cancel`, json, signal: options.signal });
    }
    submitAction(...args) {
        const [taskId, action, options] = (typeof args[1] === 'string' ? args.slice(1) : args);
        return this.json({ method: 'POST', path: `${taskPath(taskId)}/actions`, json: action, signal: options?.signal });
    }
    /**
     * Follows a task's events live, over WebSocket, then SSE, then long
     * polls, resuming after the last delivered event on every reconnect.
     * The result is an async iterable of events that ends after the terminal
     * one; see FollowOptions.
     */
    follow(taskId, options = {}) {
        return new TaskFollow(this, taskId, options);
    }
    /** follow() with callbacks: events and state changes are pushed to handlers. */
    watch(taskId, handlers, options = {}) {
        return this.follow(taskId, options).watch(handlers);
    }
    /** Sends a request and reads its JSON answer; a non-2xx answer throws TaskBridgeError. */
    async json(spec) {
        const res = await this.request(spec);
        if (!res.ok)
            throw await errorFromResponse(res);
        return (await res.json());
    }
    /**
     * Sends a request with the caller's token and returns the response as it
     * came. On a 401 it asks the token provider for a fresh token and sends
     * the request once more (every call of the API is safe to repeat).
     */
    async request(spec) {
        let token = spec.token ?? (await this.credentials.get());
        for (let retried = false;; retried = true) {
            const res = await this.#send(spec, token);
            if (res.status !== 401 || retried || spec.refreshOn401 === false)
                return res;
            const fresh = await this.credentials.refresh(token);
            if (fresh === undefined)
                return res;
            await res.body?.cancel();
            token = fresh;
        }
    }
    #send(spec, token) {
        const headers = { Accept: spec.accept ?? 'application/json', ...this.#headers, ...spec.headers };
        if (token !== undefined)
            headers.Authorization = `Bearer ${token}`;
        let body = null;
        if (spec.form !== undefined) {
            body = spec.form;
        }
        else if (spec.json !== undefined) {
            headers['Content-Type'] = 'application/json';
            body = JSON.stringify(spec.json);
        }
        return this.#fetch(this.url(spec.path, spec.query), { method: spec.method, headers, body, signal: spec.signal ?? null });
    }
}
