// Requests to `idbsync serve` and the one error type of the client.

/**
 * What failed, as `kind`: 'network' (no answer, or the answer broke off), 'auth' (401,
 * 403), 'refused' (the server refused the request or records: 400, 404, 409, 413, or
 * records rejected by a push), 'server' (5xx, 429: try again later), 'aborted' (the
 * AbortSignal). `status`, `error` and `detail` are the server's when it answered.
 */
export class SyncError extends Error {
  constructor(kind, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'SyncError';
    this.kind = kind;
    this.status = extra.status;
    this.error = extra.error;
    this.detail = extra.detail;
    if (extra.rejects) this.rejects = extra.rejects;
    if (extra.summary) this.summary = extra.summary;
  }
}

const kindOf = (status) => (status === 401 || status === 403 ? 'auth'
  : status === 429 || status >= 500 ? 'server' : 'refused');

const isAbort = (e, signal) => signal?.aborted || e?.name === 'AbortError';

/** Throws a SyncError 'aborted' if `signal` is aborted. */
export function checkAborted(signal) {
  if (signal?.aborted) throw new SyncError('aborted', 'idbsync: sync aborted', { cause: signal.reason });
}

/** `text` (a 2xx answer) parsed as JSON; an answer that is not JSON is a server error. */
export function parseAnswer(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyncError('server', `idbsync: ${what}: the answer is not JSON: ${e.message}`, { cause: e });
  }
}

/**
 * A function that sends one request to the server at `url` for `database` and resolves
 * to [Response, body text] for a 2xx answer; anything else throws a SyncError.
 */
export function connect({ url, token, database, signal, fetch: fetchFn = globalThis.fetch }) {
  const base = `${String(url).replace(/\/+$/, '')}/v1/${encodeURIComponent(database)}`;
  return async function request(method, path, { query = {}, headers = {}, body, what } = {}) {
    checkAborted(signal);
    const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    const q = qs.toString();
    const target = `${base}/${path}${q ? `?${q}` : ''}`;
    let res;
    let text;
    try {
      res = await fetchFn(target, { method, body, signal, headers: { authorization: `Bearer ${token}`, ...headers } });
      // The whole body, so that a connection lost while it arrives is a network error too.
      text = await res.text();
    } catch (e) {
      if (isAbort(e, signal)) throw new SyncError('aborted', `idbsync: ${what} aborted`, { cause: e });
      throw new SyncError('network', `idbsync: ${what}: no answer from ${base}: ${e.cause?.message ?? e.message}`, { cause: e });
    }
    if (res.ok) return [res, text];
    let error;
    let detail = text.trim().slice(0, 2000);
    try {
      ({ error, detail } = JSON.parse(text));
    } catch {
      // Not the server's JSON (a proxy's page?): the text is the detail.
    }
    throw new SyncError(kindOf(res.status), `idbsync: ${what}: HTTP ${res.status}${error ? ` ${error}` : ''}${detail ? `: ${detail}` : ''}`,
      { status: res.status, error, detail });
  };
}
