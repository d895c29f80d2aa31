// The project's test HDFS (Hadoop's MiniDFSCluster, scripts/minidfs.sh) for the browser
// test over HDFS: started in the foreground with stdin kept open, ready when it prints
// "READY hdfs://127.0.0.1:PORT"; closing stdin stops it.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/minidfs.sh', import.meta.url));

/** Resolves to {url, stop()} once the cluster is up (at most `timeoutMs`). */
export async function startMiniDfs({ timeoutMs = 180_000 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'idbsync-js-hdfs-'));
  const child = spawn('bash', [script, 'start', join(dir, 'cluster')], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`MiniDFSCluster not ready in ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (hdfs:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`MiniDFSCluster exited (${code}) before it was ready:\n${out}\n(log: ${join(dir, 'cluster')}.log)`));
    });
  });
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
