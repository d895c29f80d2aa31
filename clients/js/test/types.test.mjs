// index.d.ts is hand-written: an app's use of the API (types-usage.ts) must type-check
// against it (tsc --noEmit, strict, bundler resolution as browser apps build).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

test('types-usage.ts type-checks against index.d.ts', async () => {
  const tsc = new URL('../node_modules/.bin/tsc', import.meta.url).pathname;
  const config = new URL('./tsconfig.json', import.meta.url).pathname;
  const r = await promisify(execFile)(tsc, ['-p', config]).catch((e) => e);
  assert.equal(r.code ?? 0, 0, `${r.stdout}${r.stderr}`);
});
