// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/**
 * A CheckpointStore in Web Storage (localStorage by default), one key per
 * task under prefix. A storage that throws (full, or disabled in a
 * private window) costs only the resume point, never the stream.
 */
export function localStorageCheckpoints(storage, prefix = 'taskbridge:lastEventId:') {
    const store = storage ?? globalThis.localStorage;
    if (!store)
        throw new TypeError('localStorageCheckpoints: no storage given and no localStorage here');
    const attempt = (f, fallback) => {
        try {
            return f();
        }
        catch {
            return fallback;
        }
    };
    return {
        get: (taskId) => attempt(() => store.getItem(prefix + taskId), null),
        set: (taskId, eventId) => attempt(() => store.setItem(prefix + taskId, eventId), undefined),
        delete: (taskId) => attempt(() => store.removeItem(prefix + taskId), undefined),
    };
}
/** A CheckpointStore in memory, for one process or page. */
export function memoryCheckpoints() {
    const ids = new Map();
    return {
        get: (taskId) => ids.get(taskId),
        set: (taskId, eventId) => void ids.set(taskId, eventId),
        delete: (taskId) => void ids.delete(taskId),
    };
}
