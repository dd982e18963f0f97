// A scripted stand-in for a TaskBridge server, for unit tests of the
// client's own rules (fallback, resume, dedupe, liveness, auth refresh).
// The end-to-end tests under e2e/ run against the real example host.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

import type { TaskEvent } from '../src/index.js';

/** What the fake saw of one request. */
export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

/** Handlers answer the fake's routes; an absent one answers 404. */
export interface Routes {
  sse?: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;
  poll?: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;
  snapshot?: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;
  other?: (req: IncomingMessage, res: ServerResponse, seen: Seen, body: Buffer) => void;
  /** Decides an upgrade: false refuses it with 403; default accept when ws is set. */
  upgrade?: (seen: Seen) => boolean;
  /** Serves an accepted WebSocket. */
  ws?: (socket: WebSocket, seen: Seen) => void;
}

/** A running fake. */
export interface Fake {
  baseUrl: string;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startFake(routes: Routes): Promise<Fake> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const s: Seen = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers };
    seen.push(s);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = url.pathname.endsWith('/events/stream') ? routes.sse : url.pathname.endsWith('/events') ? routes.poll : /^\/api\/v1\/tasks\/[^/]+$/.test(url.pathname) && req.method === 'GET' ? routes.snapshot : undefined;
      if (route) route(req, res, s);
      else if (routes.other) routes.other(req, res, s, Buffer.concat(chunks));
      else envelope(res, 404, 'ROUTE_NOT_FOUND');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket: Socket, head) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const s: Seen = { method: 'UPGRADE', path: url.pathname, query: url.searchParams, headers: req.headers };
    seen.push(s);
    if (!routes.ws || routes.upgrade?.(s) === false) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => routes.ws?.(ws, s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Answers an error envelope. */
export function envelope(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ code, message: code.toLowerCase(), details: {}, timestamp: new Date().toISOString() }));
}

/** Starts an SSE answer. */
export function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write('retry: 1000\n\n');
}

/** Writes one event as the server does: id line, data line. */
export function sseEvent(res: ServerResponse, event: TaskEvent): void {
  res.write(`id: ${event.eventId}\ndata: ${JSON.stringify(event)}\n\n`);
}

/** The scripted events of a task: started, progress per step, completed. Ids are opaque strings. */
export function events(taskId: string, progress: number[]): TaskEvent[] {
  const at = new Date(0).toISOString();
  const list: TaskEvent[] = [{ taskId, eventId: 'e-a', type: 'TASK_STARTED', createdAt: at, payload: {} } as TaskEvent];
  progress.forEach((p, i) => list.push({ taskId, eventId: `e-${String.fromCharCode(98 + i)}`, type: 'TASK_PROGRESS', createdAt: at, payload: { progress: p } } as TaskEvent));
  list.push({ taskId, eventId: 'e-z', type: 'TASK_COMPLETED', createdAt: at, payload: { result: { ok: true } } } as TaskEvent);
  return list;
}

/** The events strictly after a cursor (null: all). */
export function after(list: TaskEvent[], cursor: string | null | undefined): TaskEvent[] {
  if (!cursor) return list;
  const i = list.findIndex((e) => e.eventId === cursor);
  return i < 0 ? list : list.slice(i + 1);
}
