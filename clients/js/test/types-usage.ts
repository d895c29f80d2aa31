// Compiled (not run) by types.test.mjs: the README's example and the API, as an app
// written in TypeScript uses them, must type-check against index.d.ts.
import Dexie, { type EntityTable } from 'dexie';
import { idbsyncStores, markAllChanged, sync, SyncError, track, type SyncSummary } from 'idbsync-client';

interface Todo { id: string; title: string; done: 0 | 1; updatedAt: Date }

const db = new Dexie('todos') as Dexie & { todos: EntityTable<Todo, 'id'> };
db.version(1).stores({ todos: 'id, done, updatedAt', ...idbsyncStores() });
track(db, { changedSince: { todos: 'updatedAt' } });

export async function run(signal: AbortSignal): Promise<SyncSummary | undefined> {
  await db.todos.put({ id: 't1', title: 'write the client', done: 0, updatedAt: new Date() });
  await markAllChanged(db, ['todos']);
  try {
    const summary = await sync(db, {
      url: 'https://sync.example.com', token: 'T', signal, gzip: true,
      onProgress: (e) => console.log(e.phase, e.stage, e.table ?? e.batch),
    });
    const n: number | null = summary.batch;
    console.log(n, summary.pushed.todos?.upserted, summary.pulled.todos?.checkpoint);
    return summary;
  } catch (e) {
    if (e instanceof SyncError && e.kind === 'auth') console.log(e.status, e.error, e.detail);
    else if (e instanceof SyncError && e.kind === 'refused') console.log(e.rejects?.map((r) => [r.table, r.key, r.reason]));
    return undefined;
  }
}
