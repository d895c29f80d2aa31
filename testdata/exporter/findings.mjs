// Replays the findings corpus (findings/findings.json) of the property round trip through
// the same case as roundtrip.mjs (cases.mjs): each finding's minimal input is converted
// with its `args` and downloaded, and must come back exactly (or give exactly the
// `expect.rejects` it lists, where a reject with that reason is the documented outcome).
// `expect.entries` gives the records expected where the stock importDB cannot read the
// original export. The checks of the other classes are off for each finding.
//
// - status `fixed`: the case must pass; a failure is a regression.
// - status `limit`: a documented limit (README, "What does not come back exactly"): it
//   must still fail, like `open`, and is excluded from the round trip the same way.
// - status `open`: the case must still fail (the failure is printed); one that passes
//   says "now passes: mark it fixed", and fails the run, so that findings.json (and the
//   classes that the test command's round trip excludes: `--exclude open`) follow the fixes.
//
// Run: node findings.mjs --idbsync PATH [--only FILE|CLASS|N,...] [--keep] [--verbose]
//        [--dir DIR (another folder with a findings.json; default findings/)]

import './env.mjs'; // must come first: globals for Dexie and dexie-export-import
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CLASSES } from './arbitraries.mjs';
import { caseRunner, newStats } from './cases.mjs';

const { values: opt } = parseArgs({
  options: {
    idbsync: { type: 'string', default: process.env.IDBSYNC_BIN },
    only: { type: 'string', default: '' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
if (!opt.idbsync) {
  console.error('usage: node findings.mjs --idbsync PATH [--only FILE|CLASS|N,...] [--keep] [--verbose]');
  process.exit(2);
}
const dir = opt.dir ? new URL(`file://${opt.dir.replace(/\/?$/, '/')}`) : new URL('./findings/', import.meta.url);
const { findings } = JSON.parse(await readFile(new URL('findings.json', dir), 'utf8'));
const only = new Set(opt.only.split(',').filter(Boolean));

// findings.json itself: known classes, a status, a reason for each open one.
const bad = [];
for (const f of findings) {
  if (!(f.class in CLASSES)) bad.push(`${f.file}: unknown class '${f.class}'`);
  else if (CLASSES[f.class].finding !== f.finding) bad.push(`${f.file}: ${f.finding}, but class ${f.class} is ${CLASSES[f.class].finding}`);
  if (!['fixed', 'open', 'limit'].includes(f.status)) bad.push(`${f.file}: status '${f.status}' (fixed, open or limit)`);
  if (f.status !== 'fixed' && !f.reason) bad.push(`${f.file}: ${f.status} without a reason`);
  if (!['dexie', 'ndjson'].includes(f.mode)) bad.push(`${f.file}: mode '${f.mode}'`);
}
if (bad.length) {
  console.error(`findings.json:\n  ${bad.join('\n  ')}`);
  process.exit(2);
}

const stats = newStats();
const counts = { fixed: 0, open: 0, regressed: 0, nowPasses: 0 };
console.log(`findings: ${findings.length} in findings/findings.json, idbsync ${opt.idbsync}`);
for (const f of findings) {
  if (only.size && !only.has(f.file) && !only.has(f.class) && !only.has(f.finding)) continue;
  const text = await readFile(new URL(f.file, dir), 'utf8');
  const variants = [[f.args.length ? 'parted' : 'plain', f.args]];
  // The checks of the other classes are off (the reject-reason check, …): each finding
  // fails or passes by its own class alone.
  const others = new Set(Object.keys(CLASSES).filter((c) => c !== f.class));
  const { dexieText, ndjsonText, runCase } = caseRunner({ bin: opt.idbsync, exclude: others, stats });
  let problems;
  try {
    await runCase(async (d, log) => {
      const p = f.mode === 'dexie'
        ? await dexieText(text, variants, d, log, f.expect)
        : await ndjsonText(text.split('\n').filter(Boolean), variants, d, log, f.expect, f.file);
      return p ?? ['the stock importDB cannot read this export'];
    }, opt.keep);
  } catch (e) {
    problems = e.message;
  }
  const label = `${f.finding} ${f.class} ${f.file}${f.args.length ? ` ${f.args.join(' ')}` : ''}`;
  const detail = (p) => (opt.verbose ? p : p.split('\n').slice(0, 3).join('\n')).replace(/^/gm, '      ');
  if (f.status === 'fixed' && problems === undefined) {
    counts.fixed++;
    console.log(`  ok    ${label}: fixed, round trips`);
  } else if (f.status === 'fixed') {
    counts.regressed++;
    console.log(`  FAIL  ${label}: marked fixed, but fails again:\n${detail(problems)}`);
  } else if (problems !== undefined) {
    counts.open++;
    console.log(`  ${f.status.padEnd(5)} ${label}: still fails (${f.reason})\n${detail(problems)}`);
  } else {
    counts.nowPasses++;
    console.log(`  PASS  ${label}: marked open, but now passes: mark it fixed in findings/findings.json`);
  }
}
console.log(`findings: ${counts.fixed} fixed and passing, ${counts.open} open and still failing, ` +
  `${counts.regressed} fixed but failing, ${counts.nowPasses} open but now passing`);
process.exitCode = counts.regressed + counts.nowPasses > 0 ? 1 : 0;
