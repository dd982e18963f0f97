import type { EventId, TaskId } from './types.js';

/**
 * Where follow() keeps the last eventId it delivered per task, so that a
 * new follow (after a page reload, say) resumes after it. Methods may be
 * synchronous or return promises.
 */
export interface CheckpointStore {
  /** The last delivered eventId of the task, or null/undefined for none. */
  get(taskId: TaskId): EventId | null | undefined | Promise<EventId | null | undefined>;
  /** Records eventId as the last delivered event of the task. */
  set(taskId: TaskId, eventId: EventId): void | Promise<void>;
  /** Forgets the task. */
  delete(taskId: TaskId): void | Promise<void>;
}

/** The part of the Web Storage API that localStorageCheckpoints uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * A CheckpointStore in Web Storage (localStorage by default), one key per
 * task under prefix. A storage that throws (full, or disabled in a
 * private window) costs only the resume point, never the stream.
 */
export function localStorageCheckpoints(storage?: StorageLike, prefix = 'taskbridge:lastEventId:'): CheckpointStore {
  const store = storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!store) throw new TypeError('localStorageCheckpoints: no storage given and no localStorage here');
  const attempt = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch {
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
export function memoryCheckpoints(): CheckpointStore {
  const ids = new Map<TaskId, EventId>();
  return {
    get: (taskId) => ids.get(taskId),
    set: (taskId, eventId) => void ids.set(taskId, eventId),
    delete: (taskId) => void ids.delete(taskId),
  };
}
