// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
/**
 * The server refused a call or a stream: `status` is the HTTP status and
 * `body` the error envelope (undefined when the answer was not one, say
 * from a proxy). `retryAfterMs` comes from a Retry-After header. A refusal
 * that came as a WebSocket close has status 0, its close code in
 * `closeCode`, and the envelope the close reason names (`CODE: message`).
 */
export class TaskBridgeError extends Error {
    status;
    body;
    retryAfterMs;
    closeCode;
    name = 'TaskBridgeError';
    constructor(status, body, retryAfterMs, closeCode) {
        const what = closeCode === undefined ? String(status) : `WebSocket ${closeCode}`;
        super(body ? `${what} ${body.code}: ${body.message}` : closeCode === undefined ? `HTTP ${status}` : `WebSocket closed ${closeCode}`);
        this.status = status;
        this.body = body;
        this.retryAfterMs = retryAfterMs;
        this.closeCode = closeCode;
    }
    /** The envelope's code, when there is an envelope. */
    get code() {
        return this.body?.code;
    }
    /** The envelope's structured details; {} without an envelope. */
    get details() {
        return this.body?.details ?? {};
    }
}
/** Reads a non-2xx answer into a TaskBridgeError. */
export async function errorFromResponse(res) {
    let body;
    try {
        const parsed = await res.json();
        if (isEnvelope(parsed))
            body = parsed;
    }
    catch {
        // not JSON: the status alone describes the failure
    }
    return new TaskBridgeError(res.status, body, retryAfterMs(res.headers.get('Retry-After')));
}
function isEnvelope(value) {
    return typeof value === 'object' && value !== null && typeof value.code === 'string' && typeof value.message === 'string';
}
/** The refusal a WebSocket close stands for; reason is `CODE: message` as the server sends it. */
export function errorFromClose(closeCode, reason) {
    const m = /^([A-Z_]+): ?(.*)$/s.exec(reason);
    const body = m ? { code: m[1], message: m[2] ?? '', details: {}, timestamp: new Date().toISOString() } : undefined;
    return new TaskBridgeError(0, body, undefined, closeCode);
}
/** Reads Retry-After, in seconds or as an HTTP date, into milliseconds. */
export function retryAfterMs(header, now = Date.now()) {
    if (header === null || header.trim() === '')
        return undefined;
    const seconds = Number(header);
    if (Number.isFinite(seconds))
        return Math.max(0, seconds * 1000);
    const date = Date.parse(header);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
