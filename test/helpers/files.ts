import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A temp folder removed after the test file. */
export async function tempDir(label: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `mg-${label}-`));
  afterAll(() => rm(d, { recursive: true, force: true }));
  return d;
}

export async function randomFile(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(path, data);
  return data;
}
