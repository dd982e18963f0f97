#!/usr/bin/env node
// Validates an AsyncAPI 3 document with @asyncapi/parser, OpenAPI 3.0 payload
// schemas included (their relative `openapi.yaml#/...` refs are resolved from
// the file's own location), and checks every message payload resolved to a schema.
//
// Usage: node clients/asyncapi/validate.mjs <asyncapi.yaml>
// Exit: 0 valid; 1 error-severity diagnostics, unparsable document or
// unresolved payload; 2 usage or I/O error.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { OpenAPISchemaParser } from '@asyncapi/openapi-schema-parser';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error('usage: validate.mjs <asyncapi.yaml>');
  process.exit(2);
}
const source = path.resolve(file);
let text;
try {
  text = await readFile(source, 'utf8');
} catch (err) {
  console.error(`cannot read ${file}: ${err.message}`);
  process.exit(2);
}

const parser = new Parser();
parser.registerSchemaParser(OpenAPISchemaParser());
// `source` is the absolute path: relative $refs resolve against it.
const { document, diagnostics } = await parser.parse(text, { source });

const LABEL = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};
let errors = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors++;
  if (d.severity > DiagnosticSeverity.Warning) continue; // info and hints stay quiet
  const where = d.path?.length ? d.path.join('.') : '(document)';
  const line = d.range ? `:${d.range.start.line + 1}:${d.range.start.character + 1}` : '';
  const src = d.source && d.source !== source ? ` [${path.relative(process.cwd(), d.source)}]` : '';
  console.log(`${LABEL[d.severity]}  ${d.code}  ${where}${line}${src}\n    ${d.message}`);
}

if (!document) {
  console.error(`FAIL ${file}: the document could not be parsed (${errors} error(s)).`);
  process.exit(1);
}

// Every message must carry a payload that resolved to a schema: no $ref left
// anywhere inside it (an unresolved relative ref would survive as one).
function findRef(node, at, seen = new Set()) {
  if (node === null || typeof node !== 'object' || seen.has(node)) return undefined;
  seen.add(node);
  if (typeof node.$ref === 'string') return `${at} -> ${node.$ref}`;
  for (const [k, v] of Object.entries(node)) {
    const hit = findRef(v, `${at}/${k}`, seen);
    if (hit) return hit;
  }
  return undefined;
}
const messages = document.allMessages().all();
for (const m of messages) {
  const id = m.id() ?? m.name() ?? m.meta('pointer');
  const payload = m.payload();
  const json = payload?.json();
  if (json === null || typeof json !== 'object') {
    console.log(`error  unresolved-payload  message ${id}\n    no payload schema`);
    errors++;
    continue;
  }
  const ref = findRef(json, 'payload');
  if (ref) {
    console.log(`error  unresolved-payload  message ${id}\n    unresolved $ref: ${ref}`);
    errors++;
  } else if (!json.type && !json.oneOf && !json.anyOf && !json.allOf) {
    console.log(`error  unresolved-payload  message ${id}\n    payload is not a schema: ${JSON.stringify(json).slice(0, 120)}`);
    errors++;
  }
}

if (errors > 0) {
  console.error(`FAIL ${file}: ${errors} error(s).`);
  process.exit(1);
}
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning).length;
console.log(
  `OK ${file}: AsyncAPI ${document.version()}, ${document.allChannels().length} channels, ` +
    `${document.allOperations().length} operations, ${messages.length} messages, ${warnings} warning(s).`,
);
