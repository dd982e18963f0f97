// The taskbridge demo page. It starts a scripted task from a preset and
// follows its events: over the WebSocket first, over Server-Sent Events when
// the WebSocket fails before the terminal event, and by long-polling when SSE
// fails too. Each switch resumes after the last eventId shown, and an event
// at or before that cursor is dropped, so nothing is shown twice or skipped.
//
// Data from the server reaches the page only through textContent and data-*
// attributes, never as HTML.

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

const TERMINAL = new Set(['TASK_COMPLETED', 'TASK_FAILED', 'TASK_CANCELLED']);
const STATUS_AT_END = { TASK_COMPLETED: 'COMPLETED', TASK_FAILED: 'FAILED', TASK_CANCELLED: 'CANCELLED' };
const TRANSPORTS = { websocket: 'WebSocket', sse: 'Server-Sent Events', poll: 'long-polling' };
const NEXT = { websocket: 'sse', sse: 'poll' };
const POLL_WAIT_MS = 25000;

const $ = (id) => document.getElementById(id);

// What the page shows, for scripts and tests to read; the DOM shows the same.
const demo = {
  taskId: null,
  status: null,
  cursor: null,
  transports: [], // every transport used, in order
  events: [], // every event shown, as received
  dropped: 0, // events skipped because they were at or before the cursor
};
window.taskbridgeDemo = demo;

let follower = null;

// newId returns a fresh random id for clientRequestId and clientActionId.
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts (127.0.0.1, https)
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// isAfter tells whether eventId comes after the cursor. taskbridge-go's
// eventIds are decimal integers without leading zeros, strictly increasing
// within a task, so they compare as numbers.
function isAfter(eventId, cursor) {
  if (!/^[0-9]+$/.test(eventId)) throw new Error(`unexpected eventId ${JSON.stringify(eventId)}`);
  return cursor === null || BigInt(eventId) > BigInt(cursor);
}

function taskPath(taskId, rest) {
  return `/api/v1/tasks/${encodeURIComponent(taskId)}${rest}`;
}

// request sends a JSON request with the bearer token and returns the JSON
// answer; an error answer throws with the envelope's code and the status.
async function request(method, url, token, body, signal) {
  const init = { method, signal, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below by status
  }
  if (!res.ok) {
    const err = new Error(data && data.code ? `${data.code}: ${data.message}` : `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function parse(text) {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Follower follows one task, one transport at a time. Each transport gets a
// connection object; callbacks of a connection that is no longer the
// current one are ignored, so a late frame of a transport given up on is
// never shown.
class Follower {
  constructor(taskId, token) {
    this.taskId = taskId;
    this.token = token;
    this.cursor = null; // the last eventId shown
    this.done = false;
    this.connection = null;
  }

  start() {
    this.use('websocket', 'first choice');
  }

  // use closes the transport in use and follows over the named one.
  use(name, reason) {
    this.closeConnection();
    const connection = { name, close() {} };
    this.connection = connection;
    demo.transports.push(name);
    showTransport(name, reason);
    ({ websocket: followWebSocket, sse: followSSE, poll: followPoll })[name](this, connection);
  }

  current(connection) {
    return !this.done && this.connection === connection;
  }

  // failed moves on to the next transport when connection is still in use.
  failed(connection, reason) {
    if (!this.current(connection)) return;
    const next = NEXT[connection.name];
    if (!next) {
      this.stop(`${reason}; no transport left`);
      return;
    }
    this.use(next, reason);
  }

  // deliver shows an event that connection received, unless it is at or
  // before the cursor; a terminal event ends the following.
  deliver(connection, event) {
    if (!this.current(connection)) return;
    if (event.taskId !== this.taskId || typeof event.eventId !== 'string' || typeof event.type !== 'string') {
      this.failed(connection, `${TRANSPORTS[connection.name]} sent something that is not an event of this task`);
      return;
    }
    let newer;
    try {
      newer = isAfter(event.eventId, this.cursor);
    } catch (err) {
      this.stop(err.message);
      return;
    }
    if (!newer) {
      demo.dropped++;
      return;
    }
    this.cursor = event.eventId;
    demo.cursor = event.eventId;
    showEvent(event, connection.name, this);
    if (TERMINAL.has(event.type)) this.stop();
  }

  // stop ends the following, after the terminal event or when nothing works.
  stop(problem) {
    this.done = true;
    this.closeConnection();
    if (problem) notice(`Stopped following: ${problem}.`);
    $('start').disabled = false;
    $('cancel').disabled = true;
    hideSuspension();
  }

  closeConnection() {
    const c = this.connection;
    this.connection = null;
    if (c) c.close();
  }
}

// followWebSocket subscribes on the WebSocket after the cursor; confirmation
// and HEARTBEAT frames are not events.
function followWebSocket(f, connection) {
  const url = new URL('/api/v1/tasks/ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('access_token', f.token);
  const ws = new WebSocket(url);
  connection.close = () => ws.close(1000);
  ws.onopen = () => {
    ws.send(JSON.stringify({ action: 'subscribe', taskId: f.taskId, lastEventId: f.cursor }));
  };
  ws.onmessage = (m) => {
    const frame = parse(m.data);
    if (!frame) {
      f.failed(connection, 'the WebSocket sent a frame that is not JSON');
    } else if (frame.type !== 'SUBSCRIPTION_CONFIRMED' && frame.type !== 'HEARTBEAT') {
      f.deliver(connection, frame);
    }
  };
  ws.onclose = (e) => {
    f.failed(connection, `the WebSocket closed before the end (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
  };
}

// followSSE opens an EventSource after the cursor. HEARTBEAT data frames
// carry no id line and are not events. Any error before the terminal event
// moves on to polling rather than letting EventSource retry.
function followSSE(f, connection) {
  const url = new URL(taskPath(f.taskId, '/events/stream'), location.href);
  url.searchParams.set('access_token', f.token);
  if (f.cursor !== null) url.searchParams.set('lastEventId', f.cursor);
  const source = new EventSource(url);
  connection.close = () => source.close();
  source.onmessage = (m) => {
    const event = parse(m.data);
    if (!event) {
      f.failed(connection, 'the event stream sent data that is not JSON');
    } else if (event.type !== 'HEARTBEAT') {
      f.deliver(connection, event);
    }
  };
  source.onerror = () => f.failed(connection, 'the event stream failed');
}

// followPoll long-polls after the cursor until the terminal event; network
// and server errors are retried with a growing pause, a refusal (4xx) stops.
function followPoll(f, connection) {
  const abort = new AbortController();
  connection.close = () => abort.abort();
  (async () => {
    let failures = 0;
    while (f.current(connection)) {
      const url = new URL(taskPath(f.taskId, '/events'), location.href);
      url.searchParams.set('waitTimeoutMs', String(POLL_WAIT_MS));
      if (f.cursor !== null) url.searchParams.set('afterEventId', f.cursor);
      try {
        const page = await request('GET', url, f.token, undefined, abort.signal);
        failures = 0;
        for (const event of page.events) f.deliver(connection, event);
      } catch (err) {
        if (!f.current(connection)) return;
        if (err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
          f.stop(`polling was refused (${err.message})`);
          return;
        }
        failures++;
        notice(`Polling failed (${err.message}); trying again.`);
        await sleep(Math.min(250 * 2 ** failures, 10000));
      }
    }
  })();
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

function showEvent(event, transport, f) {
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
      showSuspension(f, p);
      break;
    case 'TASK_ACTION_ACCEPTED':
      hideSuspension(p.suspendId);
      break;
  }
  if (TERMINAL.has(event.type)) {
    setStatus(STATUS_AT_END[event.type], false);
  } else {
    setStatus('RUNNING', !$('suspension').hidden);
  }
}

function showSuspension(f, p) {
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
      b.addEventListener('click', () => answer(f, p.suspendId, action));
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
async function answer(f, suspendId, actionType) {
  setActionsDisabled(true);
  try {
    const res = await request('POST', taskPath(f.taskId, '/actions'), f.token, {
      clientActionId: newId(),
      suspendId,
      actionType,
    });
    notice(`${actionType}: ${res.status}`);
    hideSuspension(suspendId);
    if (!f.done && demo.status === 'RUNNING') setStatus('RUNNING', false);
  } catch (err) {
    notice(`${actionType} failed: ${err.message}`);
    setActionsDisabled(false);
  }
}

async function cancel() {
  const f = follower;
  if (!f || f.done) return;
  $('cancel').disabled = true;
  try {
    const res = await request('POST', taskPath(f.taskId, '/cancel'), f.token);
    notice(`Cancel: ${res.status}`);
  } catch (err) {
    notice(`Cancel failed: ${err.message}`);
    if (!f.done) $('cancel').disabled = false;
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
  try {
    const task = await request('POST', '/api/v1/tasks', token, {
      clientRequestId: newId(),
      taskType: 'scripted',
      input: { steps: PRESET },
      metadata: { source: 'taskbridge demo page' },
    });
    demo.taskId = task.taskId;
    $('task-id').textContent = task.taskId;
    $('task-id').dataset.taskId = task.taskId;
    setStatus(task.status, false);
    follower = new Follower(task.taskId, token);
    $('cancel').disabled = false;
    follower.start();
  } catch (err) {
    notice(`Could not start the task: ${err.message}`);
    $('start').disabled = false;
  }
}

function reset() {
  Object.assign(demo, { taskId: null, status: null, cursor: null, transports: [], events: [], dropped: 0 });
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
