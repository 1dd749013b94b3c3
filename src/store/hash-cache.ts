// A local cache of file digests so re-pushing an unchanged file costs a stat, not a read.
// Keyed by absolute path; an entry is valid only while size, mtime (ns) and inode are all unchanged
// (the same identity rsync/git use: a rewrite in place changes mtime, a replace-by-rename the inode).
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../lib/fs-atomic.ts';

export interface FileIdentity {
  size: number;
  mtimeNs: string;
  ino: string;
  dev: string;
}

interface Entry extends FileIdentity {
  sha256: string;
}

interface CacheFile {
  version: 1;
  entries: Record<string, Entry>;
}

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const st = await stat(file, { bigint: true });
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: st.ino.toString(), dev: st.dev.toString() };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino && a.dev === b.dev;
}

export class HashCache {
  readonly file: string;
  private entries: Record<string, Entry> = {};
  private dirty = false;

  private constructor(file: string) {
    this.file = file;
  }

  /** Load `<stateDir>/hash-cache.json`; a missing or unreadable cache starts empty (it is only a cache). */
  static async load(stateDir: string): Promise<HashCache> {
    const cache = new HashCache(join(stateDir, 'hash-cache.json'));
    try {
      const parsed = JSON.parse(await readFile(cache.file, 'utf8')) as Partial<CacheFile>;
      if (parsed.version === 1 && parsed.entries && typeof parsed.entries === 'object') cache.entries = parsed.entries;
    } catch {
      // absent or corrupt: rebuilt as files are hashed
    }
    return cache;
  }

  /** The cached sha256 of `file` if its identity still matches. */
  lookup(file: string, id: FileIdentity): string | undefined {
    const e = this.entries[resolve(file)];
    return e && sameIdentity(e, id) ? e.sha256 : undefined;
  }

  record(file: string, id: FileIdentity, sha256: string): void {
    this.entries[resolve(file)] = { ...id, sha256 };
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const body: CacheFile = { version: 1, entries: this.entries };
    await writeFileAtomic(this.file, JSON.stringify(body));
    this.dirty = false;
  }
}
