// Types of idbsync-client (hand-written; the module itself is plain JavaScript).
import type { Dexie } from 'dexie';

/**
 * The client's two tables, to spread into the app's schema:
 * `db.version(n).stores({ ...appStores, ...idbsyncStores() })`.
 * `_idbsync_changes` holds the keys changed and not pushed yet, `_idbsync_state` the
 * client id, batch numbers and checkpoints.
 */
export function idbsyncStores(): { _idbsync_changes: string; _idbsync_state: string };

export interface TrackOptions {
  /**
   * Tables whose records carry an indexed modification time, by the name of that index
   * (`{ notes: 'updatedAt' }`): a push sends the records whose field is above the newest
   * one pushed before, so the field must grow with every local write (Date.now() or a
   * Date); records without it are not pushed. Only their deletes are recorded.
   */
  changedSince?: Record<string, string>;
}

/**
 * Starts recording the changes of `db` (a DBCore middleware writing, in the app's own
 * transactions, the primary keys of the records written). Call it before `db.open()`.
 * Returns `db`.
 */
export function track<T extends Dexie>(db: T, options?: TrackOptions): T;

/**
 * Records every record now in `tables` (default: all) as changed, so that the next sync
 * pushes them: for data written before `track()` was installed. Call it once before the
 * first sync of such a database, else the first pull replaces those tables with the
 * server's.
 */
export function markAllChanged(db: Dexie, tables?: string[]): Promise<void>;

export interface SyncProgress {
  phase: 'push' | 'pull';
  /** push: 'send' then 'done' per batch; pull: 'fetch' then 'done' per table. */
  stage: 'send' | 'fetch' | 'done';
  /** push: the batch number and what it carries per table. */
  batch?: number;
  sent?: Record<string, { upserts: number; deletes: number }>;
  /** pull: the table, the checkpoint it starts from, and (at 'done') what was applied. */
  table?: string;
  since?: number;
  upserted?: number;
  deleted?: number;
  kept?: number;
  checkpoint?: number;
}

export interface SyncOptions {
  /** The server, e.g. 'https://sync.example.com' (`/v1/{database}/…` is added). */
  url: string;
  /** A token from `idbsync token new` (sent as `Authorization: Bearer`). */
  token: string;
  /** The server-side database (default: the Dexie database's name). */
  database?: string;
  /**
   * This database's client id in batch numbers (1-128 of A-Z a-z 0-9 _ . : -);
   * default: a random UUID, kept in `_idbsync_state`.
   */
  clientId?: string;
  /**
   * The tables to sync (default: all but the client's own). A batch left pending by an
   * earlier sync is sent whole, whatever tables it holds.
   */
  tables?: string[];
  onProgress?: (event: SyncProgress) => void;
  signal?: AbortSignal;
  /** Send the push body gzip-compressed (CompressionStream). Default false. */
  gzip?: boolean;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

/** What one table's push did: counts sent, and the server's counts. */
export interface PushedTable {
  upserts: number;
  deletes: number;
  status: 'committed' | 'no_change' | 'already_applied';
  upserted: number;
  deleted: number;
  unchanged: number;
  rejected: number;
  checkpoint: number;
  /** The server answered a retried batch with its first answer. */
  replayed: boolean;
}

export interface PulledTable {
  upserted: number;
  deleted: number;
  /** Server changes not applied because the key has a local change not pushed yet. */
  kept: number;
  checkpoint: number;
}

export interface Reject {
  table: string;
  /** The row's position in the table's part of the batch, and its primary key. */
  record: number;
  key: unknown;
  reason: string;
  path?: string;
  [more: string]: unknown;
}

export interface SyncSummary {
  database: string;
  clientId: string;
  /** The last batch pushed, or null when there was nothing to push. */
  batch: number | null;
  /** Every batch pushed ([client, n]): a retried one, then the rest. */
  batches: [string, number][];
  pushed: Record<string, PushedTable>;
  rejects: Reject[];
  pulled: Record<string, PulledTable>;
  checkpoints: Record<string, number>;
}

/**
 * Pushes the changes recorded since the last push (one batch, numbered per client; a
 * batch whose answer was lost is sent again under its number first), then pulls each
 * table's changes since its checkpoint and applies them in one transaction per table.
 * One sync at a time per database (Web Locks where available).
 */
export function sync(db: Dexie, options: SyncOptions): Promise<SyncSummary>;

export type SyncErrorKind = 'network' | 'auth' | 'refused' | 'server' | 'aborted';

/**
 * What failed: 'network' (no answer), 'auth' (401, 403), 'refused' (400, 404, 409, 413,
 * or records rejected: `rejects`, and `summary` of the sync, which went on), 'server'
 * (5xx, 429: try again later), 'aborted' (the signal).
 */
export class SyncError extends Error {
  readonly name: 'SyncError';
  readonly kind: SyncErrorKind;
  /** The HTTP status, when the server answered. */
  readonly status?: number;
  /** The server's `{error, detail}`. */
  readonly error?: string;
  readonly detail?: string;
  readonly rejects?: Reject[];
  readonly summary?: SyncSummary;
}
