// An in-memory model of `idbsync serve`'s sync contract, as a `fetch` function, for the
// tests that run without the binary (batching, retries, errors, pull application). It
// keeps the typeson rows it is sent as they are and gives them back in pulls, so values
// come back exactly; deleted keys are given as plain JSON, with their typeson tags in the
// member's `$types` when made with `typedDeletes`. The real server is tested in
// server.test.mjs.

import Dexie from 'dexie';

const keyFields = (schema) => {
  const src = schema.split(',')[0].trim().replace(/^\+\+|^&/, '');
  if (!src) return null;
  return src.startsWith('[') ? src.slice(1, -1).split('+') : [src];
};

/** The typeson tags of `types` under `path`, with paths relative to it ('' for itself). */
const under = (types, path, as) => Object.entries(types ?? {}).flatMap(([p, tag]) => (p === path ? [[as, tag]]
  : p.startsWith(`${path}.`) ? [[`${as}${as ? '.' : ''}${p.slice(path.length + 1)}`, tag]] : []));

/** [identity of the key, the key as plain JSON, its tags (relative paths), is it a tombstone]. */
function rowKey(fields, row) {
  if (fields === null) {
    const [k, v] = row.$ ?? row;
    const types = under(row.$types?.$, '0', '');
    return [JSON.stringify([k, types]), k, types, v._deleted === true];
  }
  const parts = fields.map((f) => Dexie.getByKeyPath(row, f));
  const types = fields.flatMap((f, j) => under(row.$types, f, fields.length > 1 ? String(j) : ''));
  return [JSON.stringify([parts, types]), fields.length > 1 ? parts : parts[0], types, row._deleted === true];
}

export function fakeServer({ token = 'secret', database = 'app', typedDeletes = false } = {}) {
  const tables = new Map(); // name → {schema, rows: Map(id → row), version, log: [{version, id, key}], batches: Map}
  const server = { tables, requests: [], failNext: null, loseNextAnswer: false, beforeAnswer: null, reject: () => null };
  const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const error = (status, e, detail) => json(status, { error: e, detail });

  function push(body, idem) {
    const doc = JSON.parse(body);
    const [client, n] = idem ? [idem.slice(0, idem.lastIndexOf('/')), Number(idem.slice(idem.lastIndexOf('/') + 1))] : [null, null];
    for (const part of doc.data.data) {
      const last = tables.get(part.tableName)?.batches.get(client);
      if (client && last > n) return error(409, 'batch_refused', `batch ${n} of client '${client}' is older than batch ${last}`);
    }
    const answer = { batch: client ? [client, n] : null, tables: [] };
    for (const part of doc.data.data) {
      const schema = doc.data.tables.find((t) => t.name === part.tableName).schema;
      if (!tables.has(part.tableName)) tables.set(part.tableName, { schema, rows: new Map(), version: 0, log: [], batches: new Map() });
      const t = tables.get(part.tableName);
      const r = { table: part.tableName, read: part.rows.length, upserted: 0, deleted: 0, unchanged: 0, rejected: 0, rejects: [] };
      if (client && t.batches.get(client) === n) {
        answer.tables.push({ ...r, unchanged: r.read, status: 'already_applied', checkpoint: t.version });
        continue;
      }
      const changes = [];
      part.rows.forEach((row, i) => {
        const reason = server.reject(part.tableName, row);
        if (reason) return r.rejects.push({ record: i, reason, path: '' }) && r.rejected++;
        const [id, key, types, dead] = rowKey(keyFields(schema), row);
        if (dead && !t.rows.has(id)) return r.unchanged++;
        if (!dead && JSON.stringify(t.rows.get(id)) === JSON.stringify(row)) return r.unchanged++;
        changes.push({ id, key, types, row: dead ? null : row });
        r[dead ? 'deleted' : 'upserted']++;
      });
      if (changes.length || client) t.version++;
      for (const c of changes) {
        if (c.row) t.rows.set(c.id, c.row);
        else t.rows.delete(c.id);
        t.log.push({ version: t.version, id: c.id, key: c.key, types: c.types });
      }
      if (client) t.batches.set(client, n);
      answer.tables.push({ ...r, status: changes.length || client ? 'committed' : 'no_change', checkpoint: t.version });
    }
    return json(200, answer);
  }

  function pull(table, since) {
    const t = tables.get(table);
    if (!t) return error(404, 'no_table', `there is no synced table '${table}'`);
    const ids = since === null ? new Set(t.rows.keys()) : new Set(t.log.filter((e) => e.version > since).map((e) => e.id));
    const rows = [...ids].filter((id) => t.rows.has(id)).map((id) => t.rows.get(id));
    const gone = [...ids].filter((id) => !t.rows.has(id)).map((id) => t.log.findLast((e) => e.id === id));
    const deleted = gone.map((e) => e.key);
    const $types = Object.fromEntries(gone.flatMap((e, i) => e.types.map(([p, tag]) => [`deleted.${i}${p ? `.${p}` : ''}`, tag])));
    const doc = {
      formatName: 'dexie', formatVersion: 1,
      data: { databaseName: database, databaseVersion: 1, tables: [{ name: table, schema: t.schema, rowCount: rows.length }],
        data: [{ tableName: table, inbound: keyFields(t.schema) !== null, rows }] },
      idbsync: { table, since, checkpoint: t.version, key_path: keyFields(t.schema) === null ? null : t.schema.split(',')[0].replace(/^\+\+|^&/, ''), deleted },
    };
    if (typedDeletes && Object.keys($types).length) doc.idbsync.$types = $types;
    return json(200, doc, { 'idbsync-checkpoint': String(t.version) });
  }

  server.fetch = async (url, init = {}) => {
    const u = new URL(url);
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    server.requests.push({ method: init.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers });
    if (init.signal?.aborted) throw new DOMException('This operation was aborted', 'AbortError');
    if (server.failNext) {
      const f = server.failNext;
      server.failNext = null;
      if (f instanceof Error) throw f;
      return error(f.status, f.error, f.detail);
    }
    if (headers.authorization !== `Bearer ${token}`) return error(401, 'unauthorized', 'the token is not valid');
    const m = u.pathname.match(/^\/v1\/([^/]+)\/(push|pull|tables)$/);
    if (!m || m[1] !== database) return error(404, 'not_found', 'no such route');
    let res;
    if (m[2] === 'push') res = push(init.body, headers['idempotency-key']);
    else if (m[2] === 'pull') res = pull(u.searchParams.get('table'), u.searchParams.has('since') ? Number(u.searchParams.get('since')) : null);
    else res = json(200, { tables: [...tables].map(([name, t]) => ({ name, kind: 'delta', checkpoint: t.version, rows: t.rows.size })) });
    await server.beforeAnswer?.(m[2]);
    if (server.loseNextAnswer && m[2] === 'push') {
      server.loseNextAnswer = false;
      throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    }
    return res;
  };
  return server;
}
