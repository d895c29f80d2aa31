// idbsync-client: sync a Dexie database with `idbsync serve`. See README.md
// ("Syncing a web app") and index.d.ts.

export { idbsyncStores, track, markAllChanged } from './track.js';
export { sync } from './sync.js';
export { SyncError } from './http.js';
