// A small typed client of the TaskBridge HTTP API. Every type comes from
// generated/openapi.d.ts (npm run gen:ts), so `tsc -p clients/ts` fails when
// api/openapi.yaml changes a shape this file relies on.
import type { components, paths } from './generated/openapi';

type Schemas = components['schemas'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];
export type CreateTaskResponse = Schemas['CreateTaskResponse'];
export type PollEventsResponse = Schemas['PollEventsResponse'];
export type TaskClientAction = Schemas['TaskClientAction'];
export type TaskClientActionResponse = Schemas['TaskClientActionResponse'];
export type ErrorResponse = Schemas['ErrorResponse'];
export type TaskEvent = Schemas['TaskEvent'];
export type TaskId = Schemas['TaskId'];

// The operations used here, and the JSON body of one of their requests or responses.
type CreateOp = paths['/api/v1/tasks']['post'];
type PollOp = paths['/api/v1/tasks/{taskId}/events']['get'];
type ActionOp = paths['/api/v1/tasks/{taskId}/actions']['post'];
type JsonBody<R> = R extends { content: { 'application/json': infer B } } ? B : never;
export type PollQuery = NonNullable<PollOp['parameters']['query']>;

/** A non-2xx answer; `body` is the error envelope when the server sent one. */
export class TaskBridgeError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorResponse | undefined,
  ) {
    super(body ? `${status} ${body.code}: ${body.message}` : `HTTP ${status}`);
    this.name = 'TaskBridgeError';
  }
  get code(): Schemas['ErrorCode'] | undefined {
    return this.body?.code;
  }
}

/** baseUrl is the server's origin, e.g. http://127.0.0.1:8080; token is sent as a Bearer token. */
export class TaskBridgeClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** POST /api/v1/tasks: 201 for a new task, 200 for a deduplicated repeat. */
  createTask(body: CreateTaskRequest): Promise<CreateTaskResponse> {
    return this.call('POST', '/api/v1/tasks', { body });
  }

  /** GET /api/v1/tasks/{taskId}/events: events strictly after afterEventId. */
  pollEvents(taskId: TaskId, query: PollQuery = {}): Promise<PollEventsResponse> {
    return this.call('GET', `/api/v1/tasks/${encodeURIComponent(taskId)}/events`, { query });
  }

  /** POST /api/v1/tasks/{taskId}/actions: answers a suspension (200 repeat, 202 first answer). */
  submitAction(taskId: TaskId, action: TaskClientAction): Promise<TaskClientActionResponse> {
    return this.call('POST', `/api/v1/tasks/${encodeURIComponent(taskId)}/actions`, { body: action });
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    { query, body }: { query?: Record<string, string | number | undefined>; body?: unknown },
  ): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(url, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    if (!res.ok) throw new TaskBridgeError(res.status, await readError(res));
    return (await res.json()) as T;
  }
}

/** Reads the error envelope of a non-2xx answer; undefined when the body is not one. */
async function readError(res: Response): Promise<ErrorResponse | undefined> {
  try {
    const body: unknown = await res.json();
    if (typeof body === 'object' && body !== null && 'code' in body && 'message' in body) {
      return body as ErrorResponse;
    }
  } catch {
    // not JSON: the status alone describes the failure
  }
  return undefined;
}

/** One line per event; the switch narrows `event.payload` by the `type` discriminator. */
export function describeEvent(event: TaskEvent): string {
  switch (event.type) {
    case 'TASK_STARTED':
      return `started ${event.payload.message ?? ''}`.trimEnd();
    case 'TASK_PROGRESS':
      return `progress ${event.payload.progress}%${event.payload.stage ? ` (${event.payload.stage})` : ''}`;
    case 'TASK_MESSAGE':
      return `[${event.payload.level ?? 'info'}] ${event.payload.message}`;
    case 'TASK_SUSPENDED':
      return `suspended ${event.payload.suspendId}: ${event.payload.allowedActions.join(', ')}`;
    case 'TASK_ACTION_ACCEPTED':
      return `action ${event.payload.actionType} accepted for ${event.payload.suspendId}`;
    case 'TASK_COMPLETED':
      return `completed: ${JSON.stringify(event.payload.result)}`;
    case 'TASK_FAILED':
      return `failed ${event.payload.code}${event.payload.retryable ? ' (retryable)' : ''}: ${event.payload.message}`;
    case 'TASK_CANCELLED':
      return `cancelled: ${event.payload.reason}`;
    default:
      // A type added to the TaskEvent union in the spec makes this line fail to compile.
      return assertNever(event);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected event ${JSON.stringify(value)}`);
}

/** Polls until the task ends, reporting progress; resolves with the TASK_COMPLETED result. */
export async function waitForResult(
  client: TaskBridgeClient,
  taskId: TaskId,
  onProgress: (percent: number, stage?: string) => void = () => {},
): Promise<unknown> {
  let afterEventId: string | undefined;
  for (;;) {
    const batch = await client.pollEvents(taskId, { afterEventId, waitTimeoutMs: 30_000 });
    for (const event of batch.events) {
      if (event.type === 'TASK_PROGRESS') onProgress(event.payload.progress, event.payload.stage);
      else if (event.type === 'TASK_COMPLETED') return event.payload.result;
      else if (event.type === 'TASK_FAILED' || event.type === 'TASK_CANCELLED') throw new Error(describeEvent(event));
    }
    afterEventId = batch.nextAfterEventId ?? afterEventId;
  }
}

// Compile-time contract checks: each line fails to type-check if the spec changes that
// shape, e.g. a new event type, a renamed query parameter, or another body schema.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
export type ContractChecks = [
  Assert<Equals<TaskEvent['type'], 'TASK_STARTED' | 'TASK_PROGRESS' | 'TASK_MESSAGE' | 'TASK_SUSPENDED'
    | 'TASK_ACTION_ACCEPTED' | 'TASK_COMPLETED' | 'TASK_FAILED' | 'TASK_CANCELLED'>>,
  Assert<Equals<keyof PollQuery, 'afterEventId' | 'waitTimeoutMs' | 'maxEvents'>>,
  // The bodies each call sends and receives are the named schemas.
  Assert<Equals<JsonBody<CreateOp['requestBody']>, CreateTaskRequest>>,
  Assert<Equals<JsonBody<CreateOp['responses'][200 | 201]>, CreateTaskResponse>>,
  Assert<Equals<JsonBody<PollOp['responses'][200]>, PollEventsResponse>>,
  Assert<Equals<JsonBody<ActionOp['requestBody']>, TaskClientAction>>,
  Assert<Equals<JsonBody<ActionOp['responses'][200 | 202]>, TaskClientActionResponse>>,
  // Every error answer of these calls is the one ErrorResponse envelope.
  Assert<Equals<JsonBody<CreateOp['responses'][400 | 401 | 403 | 409 | 413 | 422 | 503]>, ErrorResponse>>,
  Assert<Equals<JsonBody<PollOp['responses'][400 | 401 | 404 | 422]>, ErrorResponse>>,
  Assert<Equals<JsonBody<ActionOp['responses'][400 | 401 | 404 | 409 | 422]>, ErrorResponse>>,
];
