// Vitest globalSetup: a real S3 server (Ceph radosgw) for the store tests.
// If S3_ENDPOINT is set, that server is used as is. Otherwise scripts/s3-server.sh starts a private
// cluster (its own folder and free ports, so it never touches a server someone else started) and
// stops it at the end. Without Ceph installed nothing is started and the S3 tests fail with how to fix it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', 'scripts', 's3-server.sh');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function installed(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd']);
    return true;
  } catch {
    return false;
  }
}

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (process.env.S3_ENDPOINT) return;
  if (!(await installed())) {
    process.env.S3_UNAVAILABLE = 'Ceph radosgw is not installed: run `scripts/s3-server.sh install` (root), or set S3_ENDPOINT and AWS credentials';
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'mg-ceph-'));
  const env = { ...process.env, CEPH_DIR: dir, RGW_PORT: String(await freePort()), MON_PORT: String(await freePort()) };
  await run('bash', [script, 'start'], { env, timeout: 120_000 });
  const { stdout } = await run('bash', [script, 'env'], { env });
  for (const m of stdout.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!;
  return async () => {
    await run('bash', [script, 'stop'], { env, timeout: 60_000 });
    await rm(dir, { recursive: true, force: true });
  };
}
