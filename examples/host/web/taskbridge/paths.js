// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/** The path of a task under the API's base: /api/v1/tasks/{taskId}. */
export function taskPath(taskId) {
    return `/api/v1/tasks/${encodeURIComponent(taskId)}`;
}
