// One device of browser.test.mjs: a Dexie database tracked by idbsync-client, and the
// steps the test drives with page.evaluate (window.app).

import Dexie from 'dexie';
import { exportDB } from 'dexie-export-import';
import { idbsyncStores, sync, track } from 'idbsync-client';

const db = new Dexie('browserapp');
// `totals` is written only by the server (`idbsync query --create totals`) and pulled.
db.version(1).stores({ notes: 'id, done', files: '', totals: 'done', ...idbsyncStores() });
track(db);
await db.open();

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);

const steps = {
  async create() {
    await db.notes.bulkAdd([
      { id: 'n1', title: 'one', at: new Date(Date.UTC(2024, 0, 1, 9, 30)), done: 0, tags: new Set(['a']), meta: new Map([['k', 1]]) },
      { id: 'n2', title: 'two', at: new Date(1), done: 1 },
      { id: 'n3', title: 'three', at: new Date(2), done: 0, bytes: new Uint8Array([1, 2, 3]), big: 2n ** 70n, picture: new Blob([png], { type: 'image/png' }) },
    ]);
    await db.files.bulkPut([new Uint8Array([9]).buffer, { name: 'b', size: 2 }], ['f1', 'f2']);
  },
  async edit() {
    await db.notes.update('n1', { title: 'ONE', done: 1 });
    await db.notes.delete('n2');
    await db.files.delete('f1');
    await db.files.put({ name: 'c', when: new Date(3) }, 'f3');
  },
  async answer() {
    await db.notes.put({ id: 'n4', title: 'from the other device', at: new Date(4), done: 0 });
    await db.notes.where('done').equals(1).delete();
  },
};

window.app = {
  write: (step) => steps[step](),
  /** sync(), its summary or its error as plain data. */
  async sync(options) {
    try {
      return { summary: await sync(db, options) };
    } catch (e) {
      return { error: { name: e.name, kind: e.kind, status: e.status, error: e.error, message: e.message } };
    }
  },
  /** The app's tables as the stock exportDB writes them: equal texts, equal records. */
  dump: async () => (await exportDB(db, { skipTables: ['_idbsync_changes', '_idbsync_state'] })).text(),
  pending: () => db.table('_idbsync_changes').count(),
};
window.appReady = true;
