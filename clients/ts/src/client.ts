import { Credentials, type TokenProvider } from './auth.js';
import { errorFromResponse } from './errors.js';
import { taskPath } from './paths.js';
import { TaskFollow, type FollowOptions, type WatchHandlers, type Watch } from './follow.js';
import type { WebSocketConstructor } from './transports.js';
import type {
  ActionOf,
  AnyTaskTypes,
  CancelTaskResponse,
  CreateRequestOf,
  CreateTaskResponse,
  EventId,
  PollEventsResponse,
  TaskClientAction,
  TaskClientActionResponse,
  TaskId,
  TaskSnapshot,
  TaskTypeMap,
  TaskTypeName,
} from './types.js';

/** How a TaskBridgeClient reaches its server. */
export interface ClientOptions {
  /**
   * Where the host mounted the API: its origin, with the path prefix when
   * it mounted the routes under one (`https://api.example.com/tasks`). The
   * client appends `/api/v1/...` to it.
   */
  baseUrl: string | URL;
  /** The bearer token, or a function that gives (and refreshes) it. */
  token?: TokenProvider;
  /** The fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** The WebSocket class to use; default globalThis.WebSocket (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** Headers sent with every HTTP call (not on the WebSocket, which cannot carry them). */
  headers?: Record<string, string>;
}

/** Options every call takes. */
export interface CallOptions {
  /** Ends the call early; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A file sent with a multipart create. */
export interface Attachment {
  /** The file's bytes: a Blob (a File in browsers). */
  data: Blob;
  /** The file name sent in the part's Content-Disposition. */
  name: string;
}

/** Options of createTask. */
export interface CreateOptions extends CallOptions {
  /** Files: when there is at least one, the create is sent as multipart/form-data. */
  attachments?: readonly Attachment[];
}

/** A long poll's query. */
export interface PollOptions extends CallOptions {
  /** Only events strictly after this one; absent means from the start. */
  afterEventId?: EventId | null;
  /** How long the server may wait for a first new event, in ms (0 to 60000). */
  waitTimeoutMs?: number;
  /** The largest number of events in the answer. */
  maxEvents?: number;
}

/** An HTTP request the client sends; the transports use it too. */
export interface RequestSpec extends CallOptions {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | null | undefined>;
  json?: unknown;
  form?: FormData;
  accept?: string;
  headers?: Record<string, string>;
  /** The token to send; default the current one. */
  token?: string;
  /** Ask the token provider for a fresh token and retry once on a 401; default true. */
  refreshOn401?: boolean;
}

/**
 * A client of one TaskBridge server. TT is the host's task types, from its
 * merged contract (see TaskTypeMap); it types creates, results and action
 * payloads per taskType. Safe for concurrent use; it holds no connection
 * between calls.
 */
export class TaskBridgeClient<TT extends TaskTypeMap = AnyTaskTypes> {
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  /** The token source shared by calls and streams. */
  readonly credentials: Credentials;
  /** The WebSocket class streams use, when there is one. */
  readonly WebSocket: WebSocketConstructor | undefined;

  constructor(options: ClientOptions) {
    this.#base = String(options.baseUrl).replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('TaskBridgeClient: no fetch here; pass options.fetch');
    this.#fetch = f.bind(globalThis);
    this.#headers = { ...options.headers };
    this.credentials = new Credentials(options.token);
    this.WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  }

  /** The absolute URL of an API path, e.g. url('/api/v1/tasks'). */
  url(path: string, query: RequestSpec['query'] = {}): URL {
    const url = new URL(this.#base + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /**
   * Creates a task (POST /api/v1/tasks): 201 for a new task, 200 with
   * `deduplicated: true` when clientRequestId was used before for the same
   * request. With attachments it is sent as multipart/form-data.
   */
  createTask<K extends TaskTypeName<TT>>(request: CreateRequestOf<TT, K>, options: CreateOptions = {}): Promise<CreateTaskResponse> {
    const files = options.attachments ?? [];
    if (files.length === 0) {
      return this.json({ method: 'POST', path: '/api/v1/tasks', json: request, signal: options.signal });
    }
    const form = new FormData();
    form.set('clientRequestId', request.clientRequestId);
    form.set('taskType', request.taskType);
    if (request.input !== undefined) form.set('input', JSON.stringify(request.input));
    if (request.metadata !== undefined) form.set('metadata', JSON.stringify(request.metadata));
    for (const file of files) form.append('attachments', file.data, file.name);
    return this.json({ method: 'POST', path: '/api/v1/tasks', form, signal: options.signal });
  }

  /** Reads a task's snapshot (GET /api/v1/tasks/{taskId}). */
  getTask(taskId: TaskId, options: CallOptions = {}): Promise<TaskSnapshot> {
    return this.json({ method: 'GET', path: taskPath(taskId), signal: options.signal });
  }

  /** Reads events strictly after a cursor, waiting up to waitTimeoutMs for a first one. */
  pollEvents(taskId: TaskId, options: PollOptions = {}): Promise<PollEventsResponse> {
    const { afterEventId, waitTimeoutMs, maxEvents, signal } = options;
    return this.json({ method: 'GET', path: `${taskPath(taskId)}/events`, query: { afterEventId, waitTimeoutMs, maxEvents }, signal });
  }

  /**
   * Asks the server to cancel a task; it ends with TASK_CANCELLED carrying
   * reason (cancelled_by_user without one). Cancelling an ended task is not
   * an error.
   */
  cancelTask(taskId: TaskId, options: CallOptions & { reason?: string } = {}): Promise<CancelTaskResponse> {
    const json = options.reason === undefined ? {} : { reason: options.reason };
    return this.json({ method: 'POST', path: `${taskPath(taskId)}/cancel`, json, signal: options.signal });
  }

  /**
   * Answers the open suspension of a task. Idempotent per clientActionId:
   * a repeat answers DEDUPLICATED. With the host's task types, pass the
   * task's type first to type the action: submitAction('publish', id, ...).
   */
  submitAction<K extends TaskTypeName<TT>>(taskType: K, taskId: TaskId, action: ActionOf<TT, K>, options?: CallOptions): Promise<TaskClientActionResponse>;
  /** Answers the open suspension of a task, untyped. */
  submitAction(taskId: TaskId, action: TaskClientAction, options?: CallOptions): Promise<TaskClientActionResponse>;
  submitAction(...args: unknown[]): Promise<TaskClientActionResponse> {
    const [taskId, action, options] = (typeof args[1] === 'string' ? args.slice(1) : args) as [TaskId, TaskClientAction, CallOptions | undefined];
    return this.json({ method: 'POST', path: `${taskPath(taskId)}/actions`, json: action, signal: options?.signal });
  }

  /**
   * Follows a task's events live, over WebSocket, then SSE, then long
   * polls, resuming after the last delivered event on every reconnect.
   * The result is an async iterable of events that ends after the terminal
   * one; see FollowOptions.
   */
  follow(taskId: TaskId, options: FollowOptions = {}): TaskFollow {
    return new TaskFollow(this, taskId, options);
  }

  /** follow() with callbacks: events and state changes are pushed to handlers. */
  watch(taskId: TaskId, handlers: WatchHandlers, options: FollowOptions = {}): Watch {
    return this.follow(taskId, options).watch(handlers);
  }

  /** Sends a request and reads its JSON answer; a non-2xx answer throws TaskBridgeError. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const res = await this.request(spec);
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as T;
  }

  /**
   * Sends a request with the caller's token and returns the response as it
   * came. On a 401 it asks the token provider for a fresh token and sends
   * the request once more (every call of the API is safe to repeat).
   */
  async request(spec: RequestSpec): Promise<Response> {
    let token = spec.token ?? (await this.credentials.get());
    for (let retried = false; ; retried = true) {
      const res = await this.#send(spec, token);
      if (res.status !== 401 || retried || spec.refreshOn401 === false) return res;
      const fresh = await this.credentials.refresh(token);
      if (fresh === undefined) return res;
      await res.body?.cancel();
      token = fresh;
    }
  }

  #send(spec: RequestSpec, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { Accept: spec.accept ?? 'application/json', ...this.#headers, ...spec.headers };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    let body: BodyInit | null = null;
    if (spec.form !== undefined) {
      body = spec.form;
    } else if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(spec.json);
    }
    return this.#fetch(this.url(spec.path, spec.query), { method: spec.method, headers, body, signal: spec.signal ?? null });
  }
}
