// Where benchmark reports go and come from. The store keeps them under
// reports/<model>/<version>/<testbed>.json; the interfaces let the S3 store plug in later, and the
// folder implementations (the local store's layout) serve CI, the demo and the tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/fs-atomic.ts';

export interface ReportSink {
  put(key: string, bytes: Buffer): Promise<void>;
}
export interface ReportSource {
  get(key: string): Promise<Buffer | undefined>;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

// The report key layout is the store's (src/store/keys.ts).
export { reportKey } from '../store/keys.ts';

function checkKey(key: string): void {
  if (!key.split('/').every((s) => SEGMENT.test(s) && !s.includes('..')))
    throw new Error(`store key "${key}" is not a plain relative key`);
}

/** Writes keys as files under a folder, atomically (src/lib/fs-atomic.ts: temp file, fsync, rename). */
export class FolderReportSink implements ReportSink, ReportSource {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  async put(key: string, bytes: Buffer): Promise<void> {
    checkKey(key);
    await writeFileAtomic(join(this.root, key), bytes);
  }
  async get(key: string): Promise<Buffer | undefined> {
    checkKey(key);
    try {
      return readFileSync(join(this.root, key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
}
