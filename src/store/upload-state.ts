// Local record of an unfinished multipart upload, so a killed push resumes without re-sending the
// parts the server already holds. One JSON file per blob: <stateDir>/uploads/<sha256>.json.
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/fs-atomic.ts';

export interface UploadState {
  version: 1;
  /** Where the upload goes (s3://bucket/key): a state for another store or key is ignored. */
  target: string;
  uploadId: string;
  size: number;
  partSize: number;
  /** Finished parts by part number: the ETag the server returned and the part's length. */
  parts: Record<string, { etag: string; size: number }>;
}

export function uploadStatePath(stateDir: string, sha256: string): string {
  return join(stateDir, 'uploads', `${sha256}.json`);
}

export async function loadUploadState(path: string): Promise<UploadState | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as UploadState;
    return s.version === 1 && typeof s.uploadId === 'string' && s.parts && typeof s.parts === 'object' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Serializes writes of one state file: parts finish concurrently, each save must see the latest. */
export class UploadStateWriter {
  private chain: Promise<void> = Promise.resolve();
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  save(state: UploadState): Promise<void> {
    const snapshot = JSON.stringify(state);
    this.chain = this.chain.then(() => writeFileAtomic(this.path, snapshot));
    return this.chain;
  }
  async remove(): Promise<void> {
    await this.chain.catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}
