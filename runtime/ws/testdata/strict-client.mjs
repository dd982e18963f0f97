// A strict, independent reader of the server's frames: Node's `ws` client
// (it refuses any frame that breaks RFC 6455: bad opcode or RSV bits, a
// masked server frame, an oversized or fragmented control frame, text that
// is not UTF-8) subscribes to a task, pings the server all along so that
// its pongs interleave with the data frames, and prints one JSON line: every
// message's eventId, length and SHA-256, the pings and pongs seen, how the
// connection closed, and any protocol error.
//
//   node strict-client.mjs <ws url> <taskId>
import { createHash } from 'node:crypto';
import WebSocket from 'ws';

const [url, taskId] = process.argv.slice(2);
const out = { messages: [], pings: 0, pongs: 0, closeCode: 0, error: null };
const ws = new WebSocket(url, { maxPayload: 64 << 20 });
let pinger;
ws.on('open', () => {
  ws.send(JSON.stringify({ action: 'subscribe', taskId }));
  pinger = setInterval(() => ws.ping(Buffer.from('p')), 1);
});
ws.on('message', (data, isBinary) => {
  if (isBinary) {
    out.error = 'a binary message';
    return;
  }
  const text = data.toString('utf8');
  const frame = JSON.parse(text);
  out.messages.push({
    type: frame.type,
    eventId: frame.eventId ?? null,
    bytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
  });
});
ws.on('ping', () => out.pings++);
ws.on('pong', () => out.pongs++);
ws.on('error', (err) => {
  out.error = String(err && err.message ? err.message : err);
});
ws.on('close', (code) => {
  clearInterval(pinger);
  out.closeCode = code;
  process.stdout.write(JSON.stringify(out) + '\n');
});
