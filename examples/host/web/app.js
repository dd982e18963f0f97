// The taskbridge demo page. It starts a scripted task from a preset and
// follows its events with the TypeScript client package (clients/ts, served
// from ./taskbridge/ as ES modules): over the WebSocket first, then
// Server-Sent Events, then long-polling, resuming after the last event shown
// on every reconnect, so nothing is shown twice or skipped. The fallback
// logic lives in the package, once, not here.
//
// Data from the server reaches the page only through textContent and data-*
// attributes, never as HTML.
import { isTerminal, TaskBridgeClient } from './taskbridge/index.js';

// The preset: progress, paced ticks (so events keep coming for a while), a
// suspension that waits for the person, then more work and completion.
const PRESET = [
  { progress: { progress: 5, stage: 'preparing', message: 'Reading the brief' } },
  { ticks: { count: 8, intervalMs: 150 } },
  { progress: { progress: 40, stage: 'drafting', message: 'A draft is ready' } },
  {
    suspend: {
      kind: 'USER_ACTION_REQUIRED',
      reasonCode: 'DRAFT_REVIEW',
      allowedActions: ['approve', 'reject'],
      uiHints: { title: 'Publish this draft?' },
    },
  },
  { progress: { progress: 70, stage: 'publishing' } },
  { ticks: { count: 6, intervalMs: 150 } },
  { message: { message: 'Published', level: 'info' } },
  { progress: { progress: 100, stage: 'done' } },
  { complete: { result: { published: true } } },
];

const STATUS_AT_END = { TASK_COMPLETED: 'COMPLETED', TASK_FAILED: 'FAILED', TASK_CANCELLED: 'CANCELLED' };
const TRANSPORTS = { websocket: 'WebSocket', sse: 'Server-Sent Events', poll: 'long-polling' };

const $ = (id) => document.getElementById(id);

// What the page shows, for scripts and tests to read; the DOM shows the same.
const demo = {
  taskId: null,
  status: null,
  cursor: null,
  transports: [], // every transport used, in order
  events: [], // every event shown, as received
};
window.taskbridgeDemo = demo;

// The task being followed: its id, the client and the follow.
let current = null;

// newId returns a fresh random id for clientRequestId and clientActionId.
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts (127.0.0.1, https)
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// follow shows the task's events until its terminal event, and the
// transport in use as the client reports it.
async function follow(task) {
  const f = task.client.follow(task.taskId, { onState: showState });
  task.follow = f;
  try {
    for await (const event of f) {
      demo.cursor = event.eventId;
      showEvent(event, f.state.transport, task);
      if (isTerminal(event)) ended(task);
    }
  } catch (err) {
    notice(`Stopped following: ${err.message}.`);
  }
  ended(task);
}

// ended sets the controls for a task that will send nothing more.
function ended(task) {
  task.done = true;
  $('start').disabled = false;
  $('cancel').disabled = true;
  hideSuspension();
}

// showState records a transport the first time it is tried in a row, with
// why the one before it ended.
function showState(state) {
  if (state.status === 'connecting' && demo.transports.at(-1) !== state.transport) {
    demo.transports.push(state.transport);
    showTransport(state.transport, state.reason ?? 'first choice');
  }
  if (state.status === 'retrying') notice(`${TRANSPORTS[state.transport]}: ${state.reason}; again in ${state.retryInMs} ms.`);
  if (state.status === 'open') notice('');
}

// Rendering.

function notice(text) {
  $('notice').textContent = text;
}

function setStatus(status, waiting) {
  demo.status = status;
  const el = $('status');
  el.dataset.status = status;
  el.textContent = waiting ? `${status}, waiting for you` : status;
}

function showTransport(name, reason) {
  const el = $('transport');
  el.dataset.transport = name;
  el.textContent = TRANSPORTS[name];
  const li = document.createElement('li');
  li.dataset.transport = name;
  li.textContent = `${TRANSPORTS[name]}: ${reason}`;
  $('transports').append(li);
}

function setProgress(percent) {
  const el = $('progress');
  el.value = percent;
  el.dataset.progress = String(percent);
  $('progress-text').textContent = `${percent}%`;
}

function summary(event) {
  const p = event.payload || {};
  switch (event.type) {
    case 'TASK_STARTED':
      return p.message || 'started';
    case 'TASK_PROGRESS':
      return [`${p.progress}%`, p.stage, p.message].filter(Boolean).join(' · ');
    case 'TASK_MESSAGE':
      return p.level ? `[${p.level}] ${p.message}` : String(p.message);
    case 'TASK_SUSPENDED':
      return `${p.kind} ${p.reasonCode}: ${(p.allowedActions || []).join(' / ')}`;
    case 'TASK_ACTION_ACCEPTED':
      return `${p.actionType} accepted`;
    case 'TASK_COMPLETED': {
      const result = JSON.stringify(p.result) ?? 'null';
      return `result ${result.length > 80 ? `${result.slice(0, 80)}…` : result}`;
    }
    case 'TASK_FAILED':
      return `${p.code}: ${p.message}${p.retryable ? ' (retryable)' : ''}`;
    case 'TASK_CANCELLED':
      return p.message ? `${p.reason}: ${p.message}` : String(p.reason);
    default:
      return '';
  }
}

function cell(className, text) {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}

function showEvent(event, transport, task) {
  const li = document.createElement('li');
  li.dataset.eventId = event.eventId;
  li.dataset.type = event.type;
  li.dataset.transport = transport;
  li.append(
    cell('event-id', event.eventId),
    cell('event-type', event.type),
    cell('event-summary', summary(event)),
    cell('event-transport', TRANSPORTS[transport]),
  );
  $('events').append(li);
  demo.events.push(event);

  const p = event.payload || {};
  switch (event.type) {
    case 'TASK_PROGRESS':
      setProgress(p.progress);
      break;
    case 'TASK_SUSPENDED':
      showSuspension(task, p);
      break;
    case 'TASK_ACTION_ACCEPTED':
      hideSuspension(p.suspendId);
      break;
  }
  if (isTerminal(event)) {
    setStatus(STATUS_AT_END[event.type], false);
  } else {
    setStatus('RUNNING', !$('suspension').hidden);
  }
}

function showSuspension(task, p) {
  const title = p.uiHints && typeof p.uiHints.title === 'string' ? p.uiHints.title : p.reasonCode;
  $('suspension-reason').textContent = `${title} (${p.kind}, ${p.reasonCode}${p.expiresAt ? `, until ${p.expiresAt}` : ''})`;
  const box = $('suspension-actions');
  box.dataset.suspendId = p.suspendId;
  box.replaceChildren(
    ...p.allowedActions.map((action) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.action = action;
      b.textContent = action;
      b.addEventListener('click', () => answer(task, p.suspendId, action));
      return b;
    }),
  );
  $('suspension').hidden = false;
}

// hideSuspension hides the open suspension (only when it is suspendId's, if
// given).
function hideSuspension(suspendId) {
  const box = $('suspension-actions');
  if (suspendId !== undefined && box.dataset.suspendId !== suspendId) return;
  $('suspension').hidden = true;
  box.replaceChildren();
  delete box.dataset.suspendId;
}

function setActionsDisabled(disabled) {
  for (const b of $('suspension-actions').querySelectorAll('button')) b.disabled = disabled;
}

// answer posts the chosen action, with a fresh clientActionId per click.
async function answer(task, suspendId, actionType) {
  setActionsDisabled(true);
  try {
    const res = await task.client.submitAction(task.taskId, { clientActionId: newId(), suspendId, actionType });
    notice(`${actionType}: ${res.status}`);
    hideSuspension(suspendId);
    if (!task.done && demo.status === 'RUNNING') setStatus('RUNNING', false);
  } catch (err) {
    notice(`${actionType} failed: ${err.message}`);
    setActionsDisabled(false);
  }
}

async function cancel() {
  const task = current;
  if (!task || task.done) return;
  $('cancel').disabled = true;
  try {
    const res = await task.client.cancelTask(task.taskId);
    notice(`Cancel: ${res.status}`);
  } catch (err) {
    notice(`Cancel failed: ${err.message}`);
    if (!task.done) $('cancel').disabled = false;
  }
}

async function start() {
  const token = $('token').value.trim();
  if (!token) {
    notice('Enter a token first.');
    return;
  }
  $('start').disabled = true;
  reset();
  const client = new TaskBridgeClient({ baseUrl: location.origin, token });
  try {
    const task = await client.createTask({
      clientRequestId: newId(),
      taskType: 'scripted',
      input: { steps: PRESET },
      metadata: { source: 'taskbridge demo page' },
    });
    demo.taskId = task.taskId;
    $('task-id').textContent = task.taskId;
    $('task-id').dataset.taskId = task.taskId;
    setStatus(task.status, false);
    current = { taskId: task.taskId, client, done: false, follow: null };
    $('cancel').disabled = false;
    follow(current);
  } catch (err) {
    notice(`Could not start the task: ${err.message}`);
    $('start').disabled = false;
  }
}

function reset() {
  current?.follow?.close();
  Object.assign(demo, { taskId: null, status: null, cursor: null, transports: [], events: [] });
  $('events').replaceChildren();
  $('transports').replaceChildren();
  $('task-id').textContent = 'none yet';
  $('task-id').dataset.taskId = '';
  $('status').textContent = '-';
  $('status').dataset.status = '';
  $('transport').textContent = '-';
  $('transport').dataset.transport = '';
  setProgress(0);
  hideSuspension();
  notice('');
}

$('preset').textContent = JSON.stringify(PRESET, null, 2);
$('start').addEventListener('click', start);
$('cancel').addEventListener('click', cancel);
document.body.dataset.ready = 'true';
