// One round-trip case through idbsync, shared by roundtrip.mjs (generated cases) and
// findings.mjs (the findings corpus): a Dexie export's text or NDJSON lines are converted
// (plain, or with partition terms) and downloaded (`--format dexie` / `ndjson`), and the
// download must give back every record that was not rejected, exactly (compare.mjs for
// Dexie; JSON.parse'd lines for NDJSON). Import env.mjs before this module.
//
// A record may be missing from a download only if `convert --json` counted it rejected and
// `_rejects/` holds it with a reason; `read = written + rejected` must hold. A partitioned
// convert may refuse its term with an error that names it. Anything else is a problem.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { RawNumber } from './arbitraries.mjs';
import { diffEntries, entries, headerChecks, importDownload, importOriginal } from './compare.mjs';

const execFileP = promisify(execFile);

/** Counters of what the cases did (printed by the runners). */
export const newStats = () => ({
  cases: 0, unexportable: 0, unimportable: 0, tables: 0, records: 0, rejected: 0, refused: 0, skipped: 0, reasons: new Map(),
});

/** `a` quoted for bash (control characters as $'\xHH'). */
export function quote(a) {
  if (/^[\w./=:,+-]+$/.test(a)) return a;
  if (!/[\x00-\x1f\x7f']/.test(a)) return `'${a}'`;
  return `$'${a.replace(/[\x00-\x1f\x7f'\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

/** JSON text of a generated value: -0 and RawNumbers as written; with `ascii`, every
 * non-ASCII code unit as \uXXXX (JSON.stringify already escapes lone surrogates). */
export function toJson(v, ascii) {
  if (v instanceof RawNumber) return v.text;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') {
    const s = JSON.stringify(v);
    return ascii ? s.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
  }
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x, ascii)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${toJson(k, ascii)}:${toJson(x, ascii)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A canonical text of a parsed JSON value (sorted keys, -0 kept), to compare multisets. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return Object.is(v, -0) ? '-0' : JSON.stringify(v);
}

/**
 * Runs cases with the idbsync binary `bin`. `exclude` (a Set of class names, see
 * arbitraries.mjs) turns off the checks of the classes found at run time
 * (`partitioned-all-rejected`, `reject-reason`); `expect` (findings.mjs) pins the
 * rejects a case must give: `{rejects: [{record, reason}]}` (`reason` a regular
 * expression; `[]`: every record written). `stats` counts.
 */
export function caseRunner({ bin, exclude = new Set(), stats = newStats() }) {
  /** Runs idbsync; resolves to {code, stdout, stderr} and records the command in `log`. */
  async function idbsync(args, log) {
    log.push(['idbsync', ...args].map(quote).join(' '));
    try {
      const { stdout, stderr } = await execFileP(bin, args, { maxBuffer: 256 << 20, timeout: 300_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      if (typeof e.code !== 'number') throw e;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  /**
   * `convert INPUT --out OUT --json -q ...extra`: resolves to {stores} (the summary's
   * stores, each with `rejects`: its `_rejects/` lines) or {refused} (a partitioned convert
   * that refused its term) or {problem}.
   */
  async function convert(input, out, extra, log) {
    const r = await idbsync(['convert', input, '--out', out, '--json', '-q', ...extra], log);
    if (r.code !== 0) {
      const refused = extra.some((a) => a.startsWith('--partition-by')) && /partition/i.test(r.stderr) && !/panick/.test(r.stderr);
      if (refused) stats.refused++;
      return refused ? { refused: r.stderr.trim() } : { problem: `convert ${extra.join(' ')} exited ${r.code}: ${r.stderr.trim()}` };
    }
    const { stores } = JSON.parse(r.stdout);
    for (const st of stores) {
      const dir = join(st.path, '_rejects');
      const files = await readdir(dir).catch(() => []);
      st.rejects = [];
      for (const f of files) {
        const text = await readFile(join(dir, f), 'utf8');
        st.rejects.push(...text.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
      }
    }
    return { stores };
  }

  /** Problems with a store's accounting and rejects; records the rejects in the stats. */
  function accountingProblems(st, rowCount, expect) {
    const { read, written, rejected, skipped } = st.counts;
    const problems = [];
    if (read !== rowCount) problems.push(`read ${read}, but the input has ${rowCount} records`);
    if (read !== written + rejected + skipped || skipped !== 0) problems.push(`counts do not add up: ${JSON.stringify(st.counts)}`);
    if (st.rejects.length !== rejected) problems.push(`${rejected} rejected, but _rejects/ holds ${st.rejects.length}`);
    for (const r of st.rejects) {
      if (!r.reason) {
        problems.push(`reject of record ${r.record} has no reason`);
        continue;
      }
      // The schema is inferred over every record, so a record cannot hold a field that
      // is not in it: such a reason hides why the record failed (finding N16).
      if (!exclude.has('reject-reason') && /not in the schema/.test(r.reason)) {
        problems.push(`reject of record ${r.record} says "${r.reason}" (path '${r.path}'), but the schema was inferred over every record: the reason is not why it failed`);
      }
      const reason = `${r.reason.slice(0, 70)} (${r.path})`;
      const seen = stats.reasons.get(reason) ?? { n: 0, example: r.text };
      stats.reasons.set(reason, { ...seen, n: seen.n + 1 });
    }
    if (expect?.rejects) {
      const got = st.rejects.map((r) => `${r.record}: ${r.reason}`).sort();
      const ok = st.rejects.length === expect.rejects.length && expect.rejects.every((e) => st.rejects.some((r) => r.record === e.record && new RegExp(e.reason, 'i').test(r.reason)));
      if (!ok) {
        problems.push(`rejects [${got.join('; ')}], expected [${expect.rejects.map((e) => `${e.record}: /${e.reason}/`).join('; ')}]`);
      }
    }
    stats.rejected += rejected;
    return problems;
  }

  /** Whether a store's download is left out: every record of a partitioned convert
   * rejected, with the class partitioned-all-rejected excluded. */
  function skipAllRejected(st, extra) {
    const skip = exclude.has('partitioned-all-rejected') && extra.length > 0 && st.counts.written === 0 && st.counts.rejected > 0;
    if (skip) stats.skipped++;
    return skip;
  }

  /** Downloads each table of one conversion and compares it with the original. */
  async function checkDexieOutput(out, header, original, stores, extra, expect, log) {
    const problems = [];
    await Promise.all(header.tables.map(async (t) => {
      const st = stores.find((s) => s.store === t.name);
      if (!st) return problems.push(`${t.name}: not in the convert summary`);
      problems.push(...accountingProblems(st, t.rowCount, expect).map((p) => `${t.name}: ${p}`));
      if (skipAllRejected(st, extra)) return;
      const file = `${out}.${encodeURIComponent(t.name)}.json`;
      const r = await idbsync(['download', out, `--table=${t.name}`, '--format', 'dexie', '--to', file, '-q'], log);
      if (r.code !== 0) return problems.push(`${t.name}: download exited ${r.code}: ${r.stderr.trim()}`);
      const bytes = await readFile(file);
      const { checks } = headerChecks(header, bytes, st.counts.written);
      for (const c of checks.filter((c) => !c.ok)) problems.push(`${t.name}: header: ${c.label}${c.detail ? `\n${c.detail}` : ''}`);
      if (checks.some((c) => !c.ok)) return;
      const db = await importDownload(header, bytes.toString('utf8')).catch((e) => e);
      if (db instanceof Error) return problems.push(`${t.name}: importInto of the download failed: ${db.stack}`);
      try {
        const rejected = new Set(st.rejects.map((r) => r.record));
        const all = original ? await entries(original, t.name) : structuredClone(expect.entries[t.name] ?? []);
        const expected = all.filter((_, i) => !rejected.has(i));
        const actual = await entries(db, t.name);
        problems.push(...(await diffEntries(expected, actual)).map((p) => `${t.name}: ${p}`));
        stats.tables++;
        stats.records += actual.length;
      } finally {
        await db.delete();
      }
    }));
    return problems;
  }

  /**
   * A Dexie export's `text` through each of `variants` ([name, extra convert args]) in
   * `dir`. Resolves to its problems, or to undefined when the stock importDB cannot read
   * the export (such a case says nothing about idbsync). With `expect.entries` (table →
   * [[key, value]] as JSON), those are the records expected instead of what importDB reads.
   */
  async function dexieText(text, variants, dir, log, expect) {
    const input = join(dir, 'export.json');
    await writeFile(input, text);
    const header = JSON.parse(text).data;
    const original = expect?.entries ? null : await importOriginal(text).catch(() => undefined);
    if (original === undefined) return undefined;
    try {
      const problems = [];
      for (const [name, extra] of variants) {
        const out = join(dir, name);
        const c = await convert(input, out, extra, log);
        if (c.problem) problems.push(`[${name}] ${c.problem}`);
        if (c.stores) problems.push(...(await checkDexieOutput(out, header, original, c.stores, extra, expect, log)).map((p) => `[${name}] ${p}`));
      }
      return problems;
    } finally {
      await original?.delete();
    }
  }

  /** NDJSON `lines` (file `name`, default records.ndjson) through each of `variants` in
   * `dir`. Resolves to its problems. */
  async function ndjsonText(lines, variants, dir, log, expect, fileName = 'records.ndjson') {
    const input = join(dir, fileName);
    await writeFile(input, lines.map((l) => `${l}\n`).join(''));
    const problems = [];
    for (const [name, extra] of variants) {
      const out = join(dir, name);
      const c = await convert(input, out, extra, log);
      if (c.problem) problems.push(`[${name}] ${c.problem}`);
      if (!c.stores) continue;
      if (c.stores.length !== 1) {
        problems.push(`[${name}] ${c.stores.length} stores in the convert summary: ${c.stores.map((s) => s.store).join(', ')}`);
        continue;
      }
      const [st] = c.stores;
      problems.push(...accountingProblems(st, lines.length, expect).map((p) => `[${name}] ${p}`));
      if (skipAllRejected(st, extra)) continue;
      const file = `${out}.ndjson`;
      const r = await idbsync(['download', out, `--table=${st.store}`, '--format', 'ndjson', '--to', file, '-q'], log);
      if (r.code !== 0) {
        problems.push(`[${name}] download exited ${r.code}: ${r.stderr.trim()}`);
        continue;
      }
      const rejected = new Set(st.rejects.map((x) => x.record));
      const expected = lines.filter((_, i) => !rejected.has(i));
      const actual = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      if (actual.length !== expected.length) problems.push(`[${name}] ${actual.length} lines, expected ${expected.length}`);
      if (extra.length) {
        // Partitioned output comes grouped by partition: compare the lines as multisets.
        const count = new Map();
        for (const [ls, d] of [[expected, 1], [actual, -1]]) {
          for (const l of ls) {
            const c = canonical(JSON.parse(l));
            count.set(c, { n: (count.get(c)?.n ?? 0) + d, line: l });
          }
        }
        for (const { n, line } of count.values()) {
          if (n !== 0) problems.push(`[${name}] ${n > 0 ? 'missing' : 'unexpected'} line: ${line}`);
        }
      } else {
        for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
          if (!isDeepStrictEqual(JSON.parse(actual[i]), JSON.parse(expected[i]))) {
            problems.push(`[${name}] line ${i}\n  actual:   ${actual[i]}\n  expected: ${expected[i]}`);
          }
        }
      }
      stats.tables++;
      stats.records += actual.length;
    }
    return problems;
  }

  /** Runs `caseFn(dir, log)` in a fresh folder; throws its problems (with the commands).
   * `keep` keeps the folder. Resolves to [folder, what caseFn resolved to]. */
  async function runCase(caseFn, keep) {
    const dir = await mkdtemp(join(tmpdir(), 'idbsync-roundtrip-'));
    const log = [];
    try {
      const problems = await caseFn(dir, log);
      if (problems?.length) {
        throw new Error(`${problems.join('\n')}\n\ncommands (in ${dir}):\n  ${log.join('\n  ')}`);
      }
      return [dir, problems];
    } finally {
      if (!keep) await rm(dir, { recursive: true, force: true });
    }
  }

  return { stats, dexieText, ndjsonText, runCase };
}
