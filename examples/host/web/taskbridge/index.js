// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
// @taskbridge-go/client: a TypeScript client of the TaskBridge protocol v1.
export { TaskBridgeClient } from './client.js';
export { taskPath } from './paths.js';
export { Credentials } from './auth.js';
export { TaskBridgeError } from './errors.js';
export { TaskFollow } from './follow.js';
export { StreamFailure } from './transports.js';
export { backoffDelay } from './backoff.js';
export { RecentIds } from './dedupe.js';
export { localStorageCheckpoints, memoryCheckpoints } from './checkpoint.js';
export { CloseCode, isTerminal } from './types.js';
