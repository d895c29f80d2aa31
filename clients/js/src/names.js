// The client's own tables and the names of its rows in _idbsync_state.

/** Changed keys not pushed yet: one row per [table, key], {table, key, rev}. */
export const CHANGES = '_idbsync_changes';
/** The client's bookkeeping: one row per name (see sync.js). */
export const STATE = '_idbsync_state';

/**
 * Whether `name` is one of the client's own tables, or Dexie's ('$meta'): never tracked,
 * pushed or pulled.
 */
export const isInternal = (name) => name === CHANGES || name === STATE || name.startsWith('$');

/**
 * Marks an IndexedDB transaction whose writes the change tracker must not record (the
 * pull's). A symbol, so that no app property can collide with it.
 */
export const UNTRACKED = Symbol('idbsync.untracked');
