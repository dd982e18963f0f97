import type { TaskId } from './types.js';

/** The path of a task under the API's base: /api/v1/tasks/{taskId}. */
export function taskPath(taskId: TaskId): string {
  return `/api/v1/tasks/${encodeURIComponent(taskId)}`;
}
