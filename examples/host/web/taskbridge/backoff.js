// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/** Returns the delay before attempt number `attempt` (0 for the first retry). */
export function backoffDelay(attempt, options = {}) {
    const { initialMs = 250, maxMs = 30_000, factor = 2, jitter = 0.5, random = Math.random } = options;
    const full = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
    const share = Math.min(1, Math.max(0, jitter));
    return Math.round(full * (1 - share * random()));
}
/** Resolves after ms, or at once when signal aborts. */
export function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal?.aborted || ms <= 0)
            return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
    });
}
