// The contract's types, named. Every type here comes from
// generated/openapi.ts (api/openapi.yaml) or generated/streams.ts
// (api/asyncapi.yaml), so a spec change that breaks the client fails its
// build.
import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];

export type { components, paths } from './generated/openapi.js';
export { CloseCode } from './generated/streams.js';

/** An opaque task id. */
export type TaskId = Schemas['TaskId'];
/** An opaque event id: compare it only for equality, never by order. */
export type EventId = Schemas['EventId'];
export type TaskStatus = Schemas['TaskStatus'];
export type TaskEvent = Schemas['TaskEvent'];
export type TaskEventType = TaskEvent['type'];
export type TaskSnapshot = Schemas['TaskSnapshot'];
export type CreateTaskRequest = Schemas['CreateTaskRequest'];
export type CreateTaskResponse = Schemas['CreateTaskResponse'];
export type PollEventsResponse = Schemas['PollEventsResponse'];
export type CancelTaskResponse = Schemas['CancelTaskResponse'];
export type TaskClientAction = Schemas['TaskClientAction'];
export type TaskClientActionResponse = Schemas['TaskClientActionResponse'];
export type ErrorResponse = Schemas['ErrorResponse'];
export type ErrorCode = Schemas['ErrorCode'];
export type SubscribeFrame = Schemas['SubscribeFrame'];
export type SubscriptionConfirmedFrame = Schemas['SubscriptionConfirmedFrame'];
export type HeartbeatFrame = Schemas['HeartbeatFrame'];
export type SseHeartbeatFrame = Schemas['SseHeartbeatFrame'];

/** The events after which a task emits nothing more. */
export type TerminalEvent = Extract<TaskEvent, { type: 'TASK_COMPLETED' | 'TASK_FAILED' | 'TASK_CANCELLED' }>;

const terminalTypes: ReadonlySet<string> = new Set<TerminalEvent['type']>(['TASK_COMPLETED', 'TASK_FAILED', 'TASK_CANCELLED']);

/** Reports whether event is the task's last: TASK_COMPLETED, TASK_FAILED or TASK_CANCELLED. */
export function isTerminal(event: TaskEvent): event is TerminalEvent {
  return terminalTypes.has(event.type);
}

/**
 * The task types of a host, as its merged contract declares them in the
 * `TaskTypes` schema: per taskType its input, its result and, per
 * suspension, the payload of each action. Pass a host's
 * `components['schemas']['TaskTypes']` (from openapi-typescript run on the
 * contract tbgen merged for it) as the client's type parameter.
 */
export type TaskTypeMap = Record<string, { input?: unknown; result?: unknown; suspensions?: Record<string, Record<string, unknown>> }>;

/** Any task type: what a client without a host's contract gets. */
export type AnyTaskTypes = Record<string, { input?: Record<string, unknown>; result: unknown; suspensions: Record<string, Record<string, Record<string, unknown>>> }>;

/** The task type names of a map. */
export type TaskTypeName<TT extends TaskTypeMap> = keyof TT & string;

/** The input of a task type. */
export type InputOf<TT extends TaskTypeMap, K extends TaskTypeName<TT>> = TT[K] extends { input?: infer I } ? I : Record<string, unknown>;

/** The result of a task type, carried by its TASK_COMPLETED event. */
export type ResultOf<TT extends TaskTypeMap, K extends TaskTypeName<TT>> = TT[K] extends { result: infer R } ? R : unknown;

type SuspensionsOf<TT extends TaskTypeMap, K extends TaskTypeName<TT>> = TT[K] extends { suspensions: infer S } ? S : Record<string, never>;

/**
 * An answer to a suspension of a task of type K: its actionType is one its
 * suspensions allow and its payload is typed by that action.
 */
export type ActionOf<TT extends TaskTypeMap, K extends TaskTypeName<TT>> = {
  [S in keyof SuspensionsOf<TT, K>]: {
    [A in keyof SuspensionsOf<TT, K>[S] & string]: Omit<TaskClientAction, 'actionType' | 'payload'> & {
      actionType: A;
      payload: SuspensionsOf<TT, K>[S][A];
    };
  }[keyof SuspensionsOf<TT, K>[S] & string];
}[keyof SuspensionsOf<TT, K>];

/** A create of a task of type K: its input is typed by K. */
export type CreateRequestOf<TT extends TaskTypeMap, K extends TaskTypeName<TT>> = Omit<CreateTaskRequest, 'taskType' | 'input'> & {
  taskType: K;
} & (undefined extends InputOf<TT, K> ? { input?: InputOf<TT, K> } : { input: InputOf<TT, K> });
