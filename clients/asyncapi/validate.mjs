#!/usr/bin/env node
// Validates an AsyncAPI 3 document with @asyncapi/parser. Payloads written as
// OpenAPI 3.0 schemas are validated and converted by @asyncapi/openapi-schema-parser;
// relative refs such as `openapi.yaml#/components/schemas/X` resolve against the
// document's own path. Also checks that every message payload resolved to a schema.
//
// Usage: node clients/asyncapi/validate.mjs <asyncapi.yaml>
// Exit:  0 valid (warnings allowed); 1 an error diagnostic, an unparsable document
//        or an unresolved payload; 2 bad usage or an unreadable file.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { OpenAPISchemaParser } from '@asyncapi/openapi-schema-parser';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error('usage: node clients/asyncapi/validate.mjs <asyncapi.yaml>');
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
const { document, diagnostics } = await parser.parse(text, { source });

// Errors and warnings are printed; information and hints are only counted.
const LABEL = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning' };
const rel = (p) => path.relative(process.cwd(), p) || p;
let errors = 0;
let warnings = 0;
let infos = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors++;
  else if (d.severity === DiagnosticSeverity.Warning) warnings++;
  else {
    infos++;
    continue;
  }
  const where = d.path?.length ? d.path.join('.') : '(root)';
  const at = `${rel(d.source ?? source)}${d.range ? `:${d.range.start.line + 1}:${d.range.start.character + 1}` : ''}`;
  console.log(`${LABEL[d.severity]} [${d.code}] ${where} (${at})\n    ${d.message}`);
}
const fail = (why) => {
  console.error(`FAIL ${file}: ${why}`);
  process.exit(1);
};
if (!document) fail(`the document could not be parsed (${errors} error(s))`);

// Returns the JSON pointer of the first $ref left in a schema, if any.
function findRef(node, at, seen = new Set()) {
  if (node === null || typeof node !== 'object' || seen.has(node)) return undefined;
  seen.add(node);
  if (typeof node.$ref === 'string') return `${at}/$ref = ${node.$ref}`;
  for (const [key, value] of Object.entries(node)) {
    const hit = findRef(value, `${at}/${key}`, seen);
    if (hit) return hit;
  }
  return undefined;
}

const messages = document.allMessages().all();
for (const message of messages) {
  const name = message.id() ?? message.name() ?? message.meta('pointer');
  const payload = message.payload();
  // A multi-format payload is { schemaFormat, schema }; a plain one is the schema.
  const json = payload?.json();
  const schema = json && typeof json.schema === 'object' ? json.schema : json;
  const ref = findRef(schema, '');
  let problem;
  if (schema === null || typeof schema !== 'object') problem = 'has no payload schema';
  else if (ref) problem = `has an unresolved reference: ${ref}`;
  else if (!['type', 'oneOf', 'anyOf', 'allOf', 'properties', 'enum'].some((k) => k in schema)) {
    problem = `payload is not a schema: ${JSON.stringify(schema).slice(0, 100)}`;
  }
  if (problem) {
    errors++;
    console.log(`error [unresolved-payload] message ${name} (${payload?.schemaFormat() ?? 'no format'})\n    ${problem}`);
  }
}

if (errors > 0) fail(`${errors} error(s), ${warnings} warning(s)`);
console.log(
  `OK ${file}: AsyncAPI ${document.version()}, ${document.allChannels().length} channels, ` +
    `${document.allOperations().length} operations, ${messages.length} messages ` +
    `(every payload resolved), ${warnings} warning(s), ${infos} info/hint(s)`,
);
