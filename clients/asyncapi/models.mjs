#!/usr/bin/env node
// Generates TypeScript models from an AsyncAPI 3 document with the AsyncAPI model
// generator (@asyncapi/modelina), as a client of the streams would, and checks the
// names the models get. The document is parsed by @asyncapi/parser with the OpenAPI
// schema parser registered, as validate.mjs does, so the `openapi.yaml#/...` payloads
// resolve against the document's own path.
//
// A model the generator cannot name is called AnonymousSchema_<n>, a name that moves
// whenever the document changes; the check fails on any. It also fails when the set
// of names differs from the expected list (one name per line, sorted in code-point
// order as `LC_ALL=C sort` does), so that renaming, adding or losing a model is a
// reviewed change of that file. --write rewrites the list from what is generated
// (still failing on an anonymous model).
//
// Usage: node clients/asyncapi/models.mjs [--write] <asyncapi.yaml> <expected.txt>
// Exit:  0 the names are the expected ones; 1 an anonymous model, a difference from
//        the list, a list out of order, or a document that does not parse; 2 bad usage
//        or an unreadable file.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { OpenAPISchemaParser } from '@asyncapi/openapi-schema-parser';
import { TypeScriptGenerator } from '@asyncapi/modelina';

const USAGE = 'usage: node clients/asyncapi/models.mjs [--write] <asyncapi.yaml> <expected.txt>';
const args = process.argv.slice(2);
const write = args[0] === '--write';
if (write) args.shift();
if (args.length !== 2 || args.some((a) => a.startsWith('-'))) {
  console.error(USAGE);
  process.exit(2);
}
const [file, expectedFile] = args;

async function read(name) {
  try {
    return await readFile(name, 'utf8');
  } catch (err) {
    console.error(`cannot read ${name}: ${err.message}`);
    process.exit(2);
  }
}

const fail = (why) => {
  console.error(`FAIL ${file}: ${why}`);
  process.exit(1);
};

// Anonymous models are named AnonymousSchema_<n> by the TypeScript generator, from
// the parser's <anonymous-schema-n> ids.
const isAnonymous = (name) => /^anonymous_?schema/i.test(name);
const byCodePoint = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// A few words on the schema a model came from, to find an anonymous one in the spec.
function describe(output) {
  const schema = output.model?.originalInput;
  if (schema === null || typeof schema !== 'object') return 'no schema';
  const clip = (list) => (list.length > 4 ? `${list.slice(0, 4).join(', ')}, ...` : list.join(', '));
  if (Array.isArray(schema.enum)) return `enum [${clip(schema.enum.map((v) => JSON.stringify(v)))}]`;
  if (schema.properties) return `object {${clip(Object.keys(schema.properties))}}`;
  for (const key of ['oneOf', 'anyOf', 'allOf']) {
    if (Array.isArray(schema[key])) return `${key} of ${schema[key].length}`;
  }
  return `type ${JSON.stringify(schema.type ?? 'any')}`;
}

// Parse.
const source = path.resolve(file);
const text = await read(file);
const parser = new Parser();
parser.registerSchemaParser(OpenAPISchemaParser());
const { document, diagnostics } = await parser.parse(text, { source });
if (!document) {
  for (const d of diagnostics.filter((x) => x.severity === DiagnosticSeverity.Error)) {
    console.log(`error [${d.code}] ${d.path?.join('.') || '(root)'}\n    ${d.message}`);
  }
  fail('the document could not be parsed (run validate.mjs for details)');
}

// Generate, and collect the names.
const outputs = await new TypeScriptGenerator().generate(document);
const generated = new Map(outputs.map((o) => [o.modelName, o]));
const names = [...generated.keys()].sort(byCodePoint);
const anonymous = names.filter(isAnonymous);

if (write) {
  if (anonymous.length > 0) {
    for (const name of anonymous) console.log(`  ${name}: ${describe(generated.get(name))}`);
    fail(`${anonymous.length} anonymous model(s); name them in the spec before writing ${expectedFile}`);
  }
  await writeFile(expectedFile, names.map((n) => `${n}\n`).join(''));
  console.log(`wrote ${names.length} model names to ${expectedFile}`);
  process.exit(0);
}

// Compare with the expected list.
const listed = (await read(expectedFile)).split('\n').map((l) => l.trim()).filter((l) => l !== '');
const expected = new Set(listed);
const problems = [];
if (expected.size !== listed.length) problems.push(`${expectedFile} lists a name twice`);
if (listed.some((name, i) => i > 0 && byCodePoint(listed[i - 1], name) > 0)) {
  problems.push(`${expectedFile} is not sorted (LC_ALL=C sort)`);
}
if (anonymous.length > 0) {
  problems.push(
    `${anonymous.length} anonymous model(s): give each schema a title ` +
      '(or, for a payload wrapped in a schemaFormat, an x-parser-schema-id)',
  );
}
const missing = listed.filter((n) => !generated.has(n));
const extra = names.filter((n) => !expected.has(n));
if (missing.length > 0 || extra.length > 0) {
  problems.push(`the model names differ from ${expectedFile}`);
  console.log(`--- ${expectedFile} (expected)\n+++ ${file} (generated by modelina)`);
  const lines = [
    ...missing.map((n) => ({ n, line: `- ${n}` })),
    ...extra.map((n) => ({ n, line: `+ ${n}    (${describe(generated.get(n))})` })),
  ].sort((a, b) => byCodePoint(a.n, b.n));
  for (const { line } of lines) console.log(line);
}
if (problems.length > 0) {
  for (const p of problems) console.log(`error: ${p}`);
  fail(`${problems.length} problem(s); after an intended change run: node clients/asyncapi/models.mjs --write ${file} ${expectedFile}`);
}
console.log(`OK ${file}: ${names.length} TypeScript models from modelina, every one named as in ${expectedFile}`);
