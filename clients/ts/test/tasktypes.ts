// Compile-time checks: the client is typed per taskType by a host's merged
// contract. The types come from generated/minimal.ts, which openapi-typescript
// writes from the contract tbgen merged for examples/minimal. Each line
// marked as an expected error must fail to compile, so the build fails when
// the contract or the client stops typing creates, results or action payloads.
import type { ResultOf, TaskBridgeClient, TaskEvent } from '../src/index.js';
import type { components } from './generated/minimal.js';

type TaskTypes = components['schemas']['TaskTypes'];
declare const client: TaskBridgeClient<TaskTypes>;

/** A create is typed by its taskType. */
export const create = () => client.createTask({ clientRequestId: 'r1', taskType: 'publish', input: { title: 'Hello', text: 'world' } });
// @ts-expect-error: a publish input needs a title.
export const missingTitle = () => client.createTask({ clientRequestId: 'r2', taskType: 'publish', input: { text: 'world' } });
// @ts-expect-error: the contract has no such task type.
export const unknownType = () => client.createTask({ clientRequestId: 'r3', taskType: 'thumbnail', input: {} });
// @ts-expect-error: a title is a string.
export const wrongField = () => client.createTask({ clientRequestId: 'r4', taskType: 'publish', input: { title: 7, text: 'x' } });

/** A result is typed by its taskType. */
export function describe(result: ResultOf<TaskTypes, 'publish'>): string {
  return result.published ? `published at ${result.url ?? '?'}` : `not published (${result.reason ?? ''}); ${result.words} words`;
}
// @ts-expect-error: a publish result has no such field.
export const noSuchField = (result: ResultOf<TaskTypes, 'publish'>) => result.thumbnailUrl;

/** An action's payload is typed by its task type and action. */
export const reject = () => client.submitAction('publish', 't1', { clientActionId: 'a1', suspendId: 's1', actionType: 'reject', payload: { reason: 'not yet' } });
// @ts-expect-error: a rejection needs its reason.
export const rejectWithoutReason = () => client.submitAction('publish', 't1', { clientActionId: 'a2', suspendId: 's1', actionType: 'reject', payload: {} });
// @ts-expect-error: the review suspension has no such action.
export const noSuchAction = () => client.submitAction('publish', 't1', { clientActionId: 'a3', suspendId: 's1', actionType: 'postpone', payload: {} });
/** Untyped, any action goes. */
export const untyped = () => client.submitAction('t1', { clientActionId: 'a4', suspendId: 's1', actionType: 'postpone' });

/** The event union narrows by type. */
export function progressOf(event: TaskEvent): number | undefined {
  return event.type === 'TASK_PROGRESS' ? event.payload.progress : undefined;
}
