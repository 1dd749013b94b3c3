import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// Registered when a test file imports this module (collection time); a hook registered from inside
// beforeAll or a test would never run.
const created: string[] = [];
afterAll(async () => {
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A temp folder removed after the test file. */
export async function tempDir(label: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `mg-${label}-`));
  created.push(d);
  return d;
}

export async function randomFile(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(path, data);
  return data;
}
