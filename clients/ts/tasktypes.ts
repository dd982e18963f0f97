// A host's task types, typed from its merged contract: the types come from
// generated/minimal.d.ts, which openapi-typescript writes from the contract
// that tbgen merged for examples/minimal (examples/minimal/jobs/openapi.json).
// Each @ts-expect-error line must fail to compile: `tsc -p clients/ts` fails
// when the contract stops typing creates, results or action payloads per
// taskType.
import type { components } from './generated/minimal';

type Schemas = components['schemas'];
type TaskTypes = Schemas['TaskTypes'];
export type TaskType = keyof TaskTypes;
export type InputOf<T extends TaskType> = TaskTypes[T]['input'];
export type ResultOf<T extends TaskType> = TaskTypes[T]['result'];
type Suspensions<T extends TaskType> = TaskTypes[T]['suspensions'];
export type PayloadOf<T extends TaskType, S extends keyof Suspensions<T>, A extends keyof Suspensions<T>[S]> =
  Suspensions<T>[S][A];
export type CreateRequest = Schemas['CreateTaskRequest'];

/** A create is typed by its taskType. */
export const create: CreateRequest = {
  clientRequestId: 'r1',
  taskType: 'publish',
  input: { title: 'Hello', text: 'world' },
};
// @ts-expect-error: a publish input needs a title.
export const missingTitle: CreateRequest = { clientRequestId: 'r2', taskType: 'publish', input: { text: 'world' } };
// @ts-expect-error: the contract has no such task type.
export const unknownType: CreateRequest = { clientRequestId: 'r3', taskType: 'thumbnail', input: {} };
// @ts-expect-error: a title is a string.
export const wrongField: InputOf<'publish'> = { title: 7, text: 'x' };

/** A result is typed by its taskType. */
export function describe(result: ResultOf<'publish'>): string {
  return result.published ? `published at ${result.url ?? '?'}` : `not published (${result.reason ?? ''}); ${result.words} words`;
}
// @ts-expect-error: a publish result has no such field.
export const noSuchField = (result: ResultOf<'publish'>) => result.thumbnailUrl;

/** An action's payload is typed by its task type, suspension and action. */
export const reject: PayloadOf<'publish', 'review', 'reject'> = { reason: 'not yet' };
// @ts-expect-error: a rejection needs its reason.
export const rejectWithoutReason: PayloadOf<'publish', 'review', 'reject'> = {};
// @ts-expect-error: the review suspension has no such action.
export type NoSuchAction = PayloadOf<'publish', 'review', 'postpone'>;
