// Copies the built package (dist/*.js) into the example host's demo page
// assets, examples/host/web/taskbridge/, which the host embeds and serves
// as ES modules: the page follows tasks with this package, so the fallback
// logic exists once. Source-map comments are dropped (the maps are not
// served); every file gets a header saying where it comes from.
//
//   node scripts/bundle-web.mjs           write the copy
//   node scripts/bundle-web.mjs --check   fail when the copy differs from dist/
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'dist');
const target = join(pkg, '..', '..', 'examples', 'host', 'web', 'taskbridge');
const header = '// Built from clients/ts by `npm run bundle:web -w clients/ts`. DO NOT EDIT.\n';

/** The .js files under dir, as paths relative to it, sorted. */
function scripts(dir) {
  let found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found = found.concat(scripts(path).map((p) => join(entry.name, p)));
    else if (entry.name.endsWith('.js')) found.push(entry.name);
  }
  return found.sort();
}

/** What the page serves for one built file. */
function served(file) {
  return header + readFileSync(join(dist, file), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

const want = new Map(scripts(dist).map((file) => [file, served(file)]));
if (process.argv.includes('--check')) {
  let have = new Map();
  try {
    have = new Map(scripts(target).map((file) => [file, readFileSync(join(target, file), 'utf8')]));
  } catch {
    // no copy yet: every file differs
  }
  const stale = [...new Set([...want.keys(), ...have.keys()])].filter((f) => want.get(f) !== have.get(f));
  if (stale.length > 0) {
    console.error(`${relative(process.cwd(), target)} is not the build of clients/ts: ${stale.join(', ')} differ.\nRun: npm run bundle:web -w clients/ts`);
    process.exit(1);
  }
  console.log(`${relative(process.cwd(), target)}: up to date (${want.size} modules)`);
} else {
  rmSync(target, { recursive: true, force: true });
  for (const [file, text] of want) {
    mkdirSync(dirname(join(target, file)), { recursive: true });
    writeFileSync(join(target, file), text);
  }
  console.log(`wrote ${want.size} modules to ${relative(process.cwd(), target)}`);
}
