// @taskbridge-go/client: a TypeScript client of the TaskBridge protocol v1.
export { TaskBridgeClient } from './client.js';
export { taskPath } from './paths.js';
export type { Attachment, CallOptions, ClientOptions, CreateOptions, PollOptions, RequestSpec } from './client.js';
export { Credentials } from './auth.js';
export type { TokenProvider, TokenRequest } from './auth.js';
export { TaskBridgeError } from './errors.js';
export { TaskFollow } from './follow.js';
export type { FollowOptions, FollowState, Watch, WatchHandlers } from './follow.js';
export { StreamFailure } from './transports.js';
export type { FailureKind, StreamClient, StreamItem, TransportName, WebSocketConstructor, WebSocketLike } from './transports.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { RecentIds } from './dedupe.js';
export { localStorageCheckpoints, memoryCheckpoints } from './checkpoint.js';
export type { CheckpointStore, StorageLike } from './checkpoint.js';
export { CloseCode, isTerminal } from './types.js';
export type * from './types.js';
