// Start a private radosgw with scripts/s3-server.sh: its own folder and free ports, so it never
// touches a server someone else started. Used by the vitest globalSetup and the store benchmark.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = join(import.meta.dirname, 's3-server.sh');

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

export async function radosgwInstalled(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd']);
    return true;
  } catch {
    return false;
  }
}

/** Start the server, put its AWS_* / S3_ENDPOINT settings in process.env, return a stop function. */
export async function startPrivateS3(options: { memBytes?: number } = {}): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'mg-ceph-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CEPH_DIR: dir,
    RGW_PORT: String(await freePort()),
    MON_PORT: String(await freePort()),
  };
  if (options.memBytes) env.CEPH_MEM_BYTES = String(options.memBytes);
  await run('bash', [script, 'start'], { env, timeout: 120_000 });
  const { stdout } = await run('bash', [script, 'env'], { env });
  for (const m of stdout.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!;
  return async () => {
    await run('bash', [script, 'stop'], { env, timeout: 60_000 });
    await rm(dir, { recursive: true, force: true });
  };
}
