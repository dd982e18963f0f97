// Drives the example host's demo page in headless Chromium (Debian's
// chromium, driven by playwright-core, which never downloads a browser) and
// prints what the page showed as one JSON object on stdout. The Go test
// examples/host/browser_test.go runs it against a host it started and
// compares the result with the task's stream.
//
//   node page.mjs <scenario> <host base URL> <token>
//
// Scenarios:
//
//   approve            start the preset, answer the suspension with approve,
//                      wait for TASK_COMPLETED.
//   cancel             start the preset, press Cancel once a tick is shown,
//                      wait for TASK_CANCELLED.
//   websocket-failure  the WebSocket is proxied by Playwright, which adds a
//                      HEARTBEAT frame after the confirmation and cuts the
//                      page's socket after a few events, mid-stream, and
//                      closes every later socket before it confirms; the
//                      page must resume, and go on over SSE. Answers reject.
//   sse-failure        the same, and every SSE request is aborted, so the
//                      page must end on long-polling. Answers approve.
//
// Waits have generous timeouts that only guard against a hang; nothing is
// asserted on time. Logs go to stderr. TASKBRIDGE_CHROMIUM overrides the
// browser's path (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

const WAIT = { timeout: 60_000 };
const WEBSOCKET_EVENTS_BEFORE_CUT = 4;

const [scenario, base, token] = process.argv.slice(2);

const scenarios = {
  approve: { act: (page) => answer(page, 'approve') },
  cancel: { act: cancelAfterATick },
  'websocket-failure': {
    setup: async (page) => ({ websocket: await cutWebSocket(page) }),
    act: (page) => answer(page, 'reject'),
  },
  'sse-failure': {
    setup: async (page) => ({ websocket: await cutWebSocket(page), sse: await failSSE(page) }),
    act: (page) => answer(page, 'approve'),
  },
};

// cutWebSocket proxies the page's task WebSocket to the host: it forwards
// every frame, adds a HEARTBEAT frame after SUBSCRIPTION_CONFIRMED, and
// closes the page's side after WEBSOCKET_EVENTS_BEFORE_CUT events (dropping
// whatever the host sends after that). Every later socket is closed with
// 1011 before it reaches the host, as a broken path to it would.
async function cutWebSocket(page) {
  const state = { connections: 0, forwarded: 0, heartbeatsAdded: 0, cut: false, closedEarly: 0 };
  await page.routeWebSocket(/\/api\/v1\/tasks\/ws/, (ws) => {
    state.connections++;
    if (state.cut) {
      state.closedEarly++;
      ws.close({ code: 1011, reason: 'closed by the test' }).catch(log);
      return;
    }
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (state.cut) return;
      ws.send(message);
      const frame = JSON.parse(String(message));
      if (frame.type === 'SUBSCRIPTION_CONFIRMED') {
        ws.send(JSON.stringify({ type: 'HEARTBEAT', taskId: frame.taskId, live: true }));
        state.heartbeatsAdded++;
        return;
      }
      if (frame.type === 'HEARTBEAT') return;
      state.forwarded++;
      if (state.forwarded === WEBSOCKET_EVENTS_BEFORE_CUT) {
        state.cut = true;
        ws.close({ code: 4000, reason: 'forced by the test' }).catch(log);
        server.close().catch(log);
      }
    });
  });
  return state;
}

// failSSE aborts every request for the task's event stream.
async function failSSE(page) {
  const state = { aborted: 0 };
  await page.route(/\/api\/v1\/tasks\/[^/]+\/events\/stream/, (route) => {
    state.aborted++;
    return route.abort('connectionfailed');
  });
  return state;
}

// answer waits for the suspension's buttons, notes which actions are
// offered, and clicks one.
async function answer(page, action) {
  const buttons = page.locator('#suspension-actions button[data-action]');
  await buttons.first().waitFor({ state: 'visible', ...WAIT });
  const offered = await buttons.evaluateAll((bs) => bs.map((b) => b.dataset.action));
  const suspendId = await page.locator('#suspension-actions').getAttribute('data-suspend-id');
  const statusWhileSuspended = await page.locator('#status').textContent();
  await page.click(`#suspension-actions button[data-action="${action}"]`, WAIT);
  await page.locator('#status[data-status="COMPLETED"]').waitFor(WAIT);
  return { offered, clicked: action, suspendId, statusWhileSuspended };
}

async function cancelAfterATick(page) {
  await page.locator('#events li[data-type="TASK_MESSAGE"]').first().waitFor(WAIT);
  await page.click('#cancel', WAIT);
  await page.locator('#status[data-status="CANCELLED"]').waitFor(WAIT);
  return {};
}

// shown reads what the page shows, from the DOM, and its taskbridgeDemo
// object.
function shown(page) {
  return page.evaluate(() => {
    const el = (id) => document.getElementById(id);
    return {
      taskId: el('task-id').dataset.taskId,
      status: el('status').dataset.status,
      transport: el('transport').dataset.transport,
      progress: Number(el('progress').dataset.progress),
      suspensionHidden: el('suspension').hidden,
      cancelDisabled: el('cancel').disabled,
      startDisabled: el('start').disabled,
      transports: [...document.querySelectorAll('#transports li')].map((li) => li.dataset.transport),
      events: [...document.querySelectorAll('#events li')].map((li) => ({
        eventId: li.dataset.eventId,
        type: li.dataset.type,
        transport: li.dataset.transport,
        summary: li.querySelector('.event-summary').textContent,
      })),
      demo: {
        taskId: window.taskbridgeDemo.taskId,
        transports: window.taskbridgeDemo.transports,
        events: window.taskbridgeDemo.events,
      },
    };
  });
}

function log(...args) {
  console.error(...args);
}

async function main() {
  const run = scenarios[scenario];
  if (!run || !base || !token) {
    throw new Error(`usage: node page.mjs <${Object.keys(scenarios).join('|')}> <base URL> <token>`);
  }
  const browser = await chromium.launch({
    executablePath: process.env.TASKBRIDGE_CHROMIUM || '/usr/bin/chromium',
    // The machine's network is closed: no background or component traffic.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (m) => log(`[page ${m.type()}] ${m.text()}`));
    const forced = run.setup ? await run.setup(page) : {};
    await page.goto(`${base}/`, WAIT);
    await page.locator('body[data-ready="true"]').waitFor(WAIT);
    await page.fill('#token', token);
    await page.click('#start');
    let acted;
    try {
      acted = await run.act(page);
    } catch (err) {
      log('what the page showed when the scenario failed:', JSON.stringify(await shown(page), null, 1));
      throw err;
    }
    const result = { scenario, ...(await shown(page)), acted, forced, pageErrors };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  log(err && err.stack ? err.stack : String(err));
  process.exitCode = 1;
});
