// Starts a real `idbsync serve` (the binary at IDBSYNC_BIN) on 127.0.0.1, with a temporary
// root and tokens file, for server.test.mjs.

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A TCP port free on 127.0.0.1 right now. */
const freePort = () => new Promise((resolve, reject) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  }).on('error', reject);
});

/**
 * Runs `idbsync serve` (with more `args`, on `root`: a temporary folder unless given, e.g.
 * an hdfs:// URL) and resolves to {url, root, port, pid, tokens, idbsync(...args), log(),
 * kill(signal), restart(), stop()}
 * once /healthz answers. tokens: `app` (read and write database 'app'), `other` (read
 * and write database 'other'), `appRead` (read 'app'), made by `idbsync token new`
 * before the server starts (it reads the file at start and on SIGHUP).
 */
export async function startServer(bin, { args = [], root: given } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'idbsync-js-'));
  const root = given ?? join(dir, 'root');
  const tokens = join(dir, 'tokens');
  const idbsync = async (...args) => (await run(bin, args, { maxBuffer: 64 << 20 })).stdout;
  const token = async (database, ...flags) => (await idbsync('token', 'new', '--tokens', tokens, '--database', database, ...flags)).trim();
  const made = {
    app: await token('app', '--read', '--write'),
    other: await token('other', '--read', '--write'),
    appRead: await token('app', '--read'),
  };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child;
  let exited;
  let log = '';
  let gone = null;
  // Starts the server process and waits until /healthz answers.
  const launch = async () => {
    child = spawn(bin, ['serve', '--root', root, '--listen', `127.0.0.1:${port}`, '--tokens', tokens, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => { log += d; });
    gone = null;
    exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(gone = `exited (${code ?? signal})`)));
    for (let i = 0; ; i++) {
      const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (up) break;
      const gone = await Promise.race([exited, new Promise((r) => setTimeout(r, 100, null))]);
      if (gone || i > 300) throw new Error(`idbsync serve ${gone ?? 'did not answer /healthz in 30 s'}:\n${log}`);
    }
  };
  await launch();
  return {
    url, root, port, tokens: made, idbsync, log: () => log,
    /** The process id of the running server (for /proc/<pid>/status). */
    get pid() { return child.pid; },
    /** null while the server runs, else how it exited. */
    get gone() { return gone; },
    /** Sends `signal` to the server and resolves once it has exited. */
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
    /** Starts the server again on the same root, tokens and port (after kill()). */
    restart: launch,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
