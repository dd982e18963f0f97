// Compile-time contract checks: each line fails to build if api/openapi.yaml
// changes a shape the client relies on (a new event type, a renamed query
// parameter, another body schema for a call the client makes).
import type { CancelTaskResponse, CreateTaskRequest, CreateTaskResponse, ErrorResponse, PollEventsResponse, TaskClientAction, TaskClientActionResponse, TaskEvent, TaskSnapshot } from '../src/index.js';
import type { PollOptions } from '../src/client.js';
import type { paths } from '../src/generated/openapi.js';

type CreateOp = paths['/api/v1/tasks']['post'];
type SnapshotOp = paths['/api/v1/tasks/{taskId}']['get'];
type PollOp = paths['/api/v1/tasks/{taskId}/events']['get'];
type CancelOp = paths['/api/v1/tasks/{taskId}/cancel']['post'];
type ActionOp = paths['/api/v1/tasks/{taskId}/actions']['post'];
type JsonBody<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

export type ContractChecks = [
  // follow() knows every event type; a new one must be looked at.
  Assert<Equals<TaskEvent['type'], 'TASK_STARTED' | 'TASK_PROGRESS' | 'TASK_MESSAGE' | 'TASK_SUSPENDED' | 'TASK_ACTION_ACCEPTED' | 'TASK_COMPLETED' | 'TASK_FAILED' | 'TASK_CANCELLED'>>,
  // pollEvents sends exactly the spec's query parameters.
  Assert<Equals<keyof NonNullable<PollOp['parameters']['query']>, Exclude<keyof PollOptions, 'signal'>>>,
  // The bodies each call sends and reads are the named schemas.
  Assert<Equals<JsonBody<CreateOp['requestBody']>, CreateTaskRequest>>,
  Assert<Equals<JsonBody<CreateOp['responses'][200 | 201]>, CreateTaskResponse>>,
  Assert<Equals<JsonBody<SnapshotOp['responses'][200]>, TaskSnapshot>>,
  Assert<Equals<JsonBody<PollOp['responses'][200]>, PollEventsResponse>>,
  Assert<Equals<JsonBody<CancelOp['responses'][202]>, CancelTaskResponse>>,
  Assert<Equals<JsonBody<ActionOp['requestBody']>, TaskClientAction>>,
  Assert<Equals<JsonBody<ActionOp['responses'][200 | 202]>, TaskClientActionResponse>>,
  // Every error answer is the one envelope TaskBridgeError reads.
  Assert<Equals<JsonBody<CreateOp['responses'][400 | 401 | 403 | 409 | 413 | 422 | 429 | 503]>, ErrorResponse>>,
  Assert<Equals<JsonBody<PollOp['responses'][400 | 401 | 404 | 422]>, ErrorResponse>>,
  Assert<Equals<JsonBody<ActionOp['responses'][400 | 401 | 404 | 409 | 422]>, ErrorResponse>>,
];
