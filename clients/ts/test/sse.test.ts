import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseSse, type SseMessage } from '../src/sse.js';

/** Feeds chunks to parseSse as a body would arrive, and collects what it says. */
async function parse(...chunks: string[]): Promise<SseMessage[]> {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  const out: SseMessage[] = [];
  for await (const message of parseSse(stream.getReader())) out.push(message);
  return out;
}

test('messages end at a blank line, whatever the line endings', async () => {
  const want: SseMessage[] = [
    { kind: 'message', data: 'one', id: '1' },
    { kind: 'message', data: 'two', id: '2' },
    { kind: 'message', data: 'three', id: '3' },
  ];
  assert.deepEqual(await parse('id: 1\ndata: one\n\nid: 2\r\ndata: two\r\n\r\nid: 3\rdata: three\r\r'), want);
});

test('a line, a CRLF or a UTF-8 character split across chunks is joined', async () => {
  const got = await parse('id: 1\r', '\ndata: {"m":"h', 'é', 'llo ', '\u{1F600}"}\r', '\n', '\r\n');
  assert.deepEqual(got, [{ kind: 'message', data: '{"m":"héllo \u{1F600}"}', id: '1' }]);
  const bytes = new TextEncoder().encode('data: é\n\n');
  const split = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, 7)); // the first byte of é
      controller.enqueue(bytes.slice(7));
      controller.close();
    },
  });
  const out: SseMessage[] = [];
  for await (const m of parseSse(split.getReader())) out.push(m);
  assert.deepEqual(out, [{ kind: 'message', data: 'é' }]);
});

test('data lines join with LF; comments are reported; other fields are ignored', async () => {
  const got = await parse(': ping\n\nretry: 5000\nevent: x\ndata: a\ndata:b\ndata\n\n');
  assert.deepEqual(got, [{ kind: 'comment' }, { kind: 'message', data: 'a\nb\n' }]);
});

test('a message cut before its blank line is dropped, and a message without data is none', async () => {
  assert.deepEqual(await parse('id: 1\n\ndata: half'), []);
});
