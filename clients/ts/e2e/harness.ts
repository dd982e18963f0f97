// Runs the real example host (examples/host) for the end-to-end tests, and
// a small HTTP proxy in front of it that a test can tell to refuse the
// WebSocket or SSE, to cut the WebSockets it carries, or to send to another
// host process (a restarted one), all over real sockets.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { TaskBridgeClient, type TaskEvent, type TokenProvider, type WebSocketConstructor } from '../src/index.js';
import type { components } from '../test/generated/hosttypes.js';

/** The example host's task types, from its merged contract. */
export type HostTaskTypes = components['schemas']['TaskTypes'];
/** One step of a scripted task. */
export type Step = components['schemas']['Step'];

const repo = fileURLToPath(new URL('../../../../', import.meta.url)); // build/e2e/ -> repository root

let built: string | undefined;

/**
 * The host binary: TASKBRIDGE_HOST_BIN when set, else built once from
 * examples/host with the Go toolchain.
 */
export function hostBinary(): string {
  if (process.env.TASKBRIDGE_HOST_BIN) return process.env.TASKBRIDGE_HOST_BIN;
  if (built === undefined) {
    built = join(mkdtempSync(join(tmpdir(), 'taskbridge-e2e-')), 'host');
    execFileSync('go', ['build', '-o', built, './examples/host'], { cwd: repo, stdio: 'inherit' });
  }
  return built;
}

/** A running host process. */
export interface Host {
  /** http://127.0.0.1:<port> */
  base: string;
  process: ChildProcess;
  /** Stops it: SIGTERM by default (graceful), SIGKILL to make it die. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the host with flags, and resolves once it is ready (its /ready answers 200, as a load balancer would wait for). */
export async function startHost(...flags: string[]): Promise<Host> {
  const child = spawn(hostBinary(), ['-addr', '127.0.0.1:0', '-log-level', 'warn', '-drain', '2s', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  const base = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    exited.then(([code]) => reject(new Error(`the host exited with ${String(code)} before listening`)));
  });
  await ready(base, exited);
  return {
    base,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Waits for base's /ready to answer 200 (a PostgreSQL host migrates its schema first). */
async function ready(base: string, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 600; i++) {
    if (gone) throw new Error('the host exited before it was ready');
    const res = await fetch(`${base}/ready`).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${base} was not ready within 30 s`);
}

/** What the proxy refuses or breaks. */
export interface ProxyRules {
  /** Answer WebSocket upgrades 502, as a proxy without WebSocket support does. */
  refuseWebSocket?: boolean;
  /** Answer the SSE stream 502. */
  refuseSse?: boolean;
}

/** An HTTP proxy in front of a host. */
export class Proxy {
  rules: ProxyRules = {};
  /** Where requests go; change it to send to a restarted host. */
  upstream: URL;
  /** How many WebSocket upgrades and SSE requests it forwarded. */
  readonly forwarded = { websocket: 0, sse: 0, poll: 0 };
  readonly #server = createServer((req, res) => this.#forward(req, res));
  readonly #tunnels = new Set<[Socket, Socket]>();
  readonly #open = new Set<Socket>();
  base = '';

  constructor(upstream: string) {
    this.upstream = new URL(upstream);
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#tunnel(req, socket, head));
    this.#server.on('connection', (socket: Socket) => {
      this.#open.add(socket);
      socket.on('close', () => this.#open.delete(socket));
    });
  }

  async listen(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Cuts every WebSocket it carries, on both sides, without a close frame. */
  cutWebSockets(): number {
    const n = this.#tunnels.size;
    for (const [client, host] of this.#tunnels) {
      client.destroy();
      host.destroy();
    }
    return n;
  }

  /** Cuts every connection it carries (a host restart as the client sees it). */
  cutAll(): void {
    this.cutWebSockets();
    for (const socket of this.#open) socket.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const isSse = /\/events\/stream(\?|$)/.test(path);
    if (isSse && this.rules.refuseSse) return void res.writeHead(502, { 'Content-Type': 'text/plain' }).end('the proxy does not stream');
    if (isSse) this.forwarded.sse++;
    if (/\/events(\?|$)/.test(path)) this.forwarded.poll++;
    const upstream = request(
      { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path, headers: req.headers, agent: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('upstream unreachable')));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  #tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.rules.refuseWebSocket) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    this.forwarded.websocket++;
    const up = connect(Number(this.upstream.port), this.upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const tunnel: [Socket, Socket] = [socket, up];
    this.#tunnels.add(tunnel);
    for (const s of tunnel) {
      s.on('close', () => {
        this.#tunnels.delete(tunnel);
        socket.destroy();
        up.destroy();
      });
      s.on('error', () => {});
    }
  }
}

/** A client of base for the host's task types, with `ws` as its WebSocket (Node 20 has none). */
export function clientOf(base: string, token: TokenProvider = 'alice'): TaskBridgeClient<HostTaskTypes> {
  return new TaskBridgeClient<HostTaskTypes>({ baseUrl: base, token, WebSocket: WebSocket as unknown as WebSocketConstructor });
}

/** A fresh clientRequestId. */
export function rid(name: string): string {
  return `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The task's whole history, read by polling: what every follower must have got. */
export async function history(client: TaskBridgeClient<HostTaskTypes>, taskId: string): Promise<TaskEvent[]> {
  const all: TaskEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await client.pollEvents(taskId, { afterEventId: after, maxEvents: 500 });
    all.push(...page.events);
    if (!page.hasMore) return all;
    after = page.nextAfterEventId;
  }
}
