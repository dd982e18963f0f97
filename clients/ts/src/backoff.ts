/**
 * How long to wait before the next connection attempt: exponential from
 * initialMs by factor, capped at maxMs, with up to `jitter` of it taken off
 * at random so that many clients cut at once do not come back at once.
 */
export interface BackoffOptions {
  /** The first delay; default 250 ms. */
  initialMs?: number;
  /** The cap; default 30 s. */
  maxMs?: number;
  /** The growth per failed attempt; default 2. */
  factor?: number;
  /** The share of a delay that may be taken off at random, 0 to 1; default 0.5. */
  jitter?: number;
  /** The random source, [0, 1); default Math.random. Tests make it fixed. */
  random?: () => number;
}

/** Returns the delay before attempt number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initialMs = 250, maxMs = 30_000, factor = 2, jitter = 0.5, random = Math.random } = options;
  const full = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
  const share = Math.min(1, Math.max(0, jitter));
  return Math.round(full * (1 - share * random()));
}

/** Resolves after ms, or at once when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
