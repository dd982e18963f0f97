// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.
export { CloseCode } from './generated/streams.js';
const terminalTypes = new Set(['TASK_COMPLETED', 'TASK_FAILED', 'TASK_CANCELLED']);
/** Reports whether event is the task's last: TASK_COMPLETED, TASK_FAILED or TASK_CANCELLED. */
export function isTerminal(event) {
    return terminalTypes.has(event.type);
}
