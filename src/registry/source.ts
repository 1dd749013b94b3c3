// Where registry files come from: the working tree, or (for base-branch comparisons) a git commit.
// A source lists the files under models/ and environments/ and hands over their bytes, refusing
// anything that is not a regular file inside the repository (a symlink that leaves it, a device...).
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { UserError } from '../lib/errors.ts';

export const REGISTRY_ROOTS = ['models', 'environments'] as const;

export interface SourceEntry {
  /** Repository-relative POSIX path. */
  path: string;
  bytes?: Buffer;
  /** Why the file could not be read; set instead of `bytes`. */
  problem?: string;
  /** Rule id reported with `problem`; `file-access` when absent. */
  problemRule?: string;
}

export interface RegistrySource {
  /** What to call this source in messages: a folder or `git:<ref>`. */
  readonly label: string;
  entries(): SourceEntry[];
}

export interface WorkingTreeOptions {
  /** Files larger than this are listed with a problem instead of being read. */
  maxFileBytes: number;
}

/** Reads the registry from a folder on disk. Symlinks are followed only while they stay inside it. */
export class WorkingTreeSource implements RegistrySource {
  readonly label: string;
  private readonly root: string;
  private readonly realRoot: string;
  private readonly maxFileBytes: number;

  constructor(root: string, options: WorkingTreeOptions) {
    let st;
    try {
      st = statSync(root);
    } catch {
      throw new UserError(`repository folder not found: ${root}`);
    }
    if (!st.isDirectory()) throw new UserError(`not a folder: ${root}`);
    this.root = root;
    this.realRoot = realpathSync(root);
    this.label = root;
    this.maxFileBytes = options.maxFileBytes;
  }

  entries(): SourceEntry[] {
    const out: SourceEntry[] = [];
    for (const top of REGISTRY_ROOTS) this.walk(join(this.root, top), top, out, 0);
    return out;
  }

  private inside(real: string): boolean {
    const rel = relative(this.realRoot, real);
    return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
  }

  private walk(abs: string, rel: string, out: SourceEntry[], depth: number): void {
    let st;
    try {
      st = lstatSync(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && depth === 0) return; // no models/ yet is fine
      out.push({ path: rel, problem: `cannot read: ${(e as Error).message}` });
      return;
    }
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync(abs);
      } catch {
        out.push({ path: rel, problem: 'symlink points to a file that does not exist' });
        return;
      }
      if (!this.inside(real)) {
        out.push({ path: rel, problem: 'symlink points outside the repository; registry files must live in it' });
        return;
      }
      st = statSync(real);
      // A link to a folder that contains the link (models/loop -> ..) would be walked again and again.
      if (st.isDirectory()) {
        const back = relative(real, realpathSync(dirname(abs)));
        if (back === '' || (!back.startsWith('..') && !isAbsolute(back))) {
          out.push({ path: rel, problem: 'symlink points to a folder that contains it (a loop)' });
          return;
        }
      }
    }
    if (st.isDirectory()) {
      if (depth > 8) {
        out.push({ path: rel, problem: 'folders nest too deep' });
        return;
      }
      for (const name of readdirSync(abs).sort()) this.walk(join(abs, name), `${rel}/${name}`, out, depth + 1);
      return;
    }
    if (!st.isFile()) {
      out.push({ path: rel, problem: 'not a regular file' });
      return;
    }
    if (st.size > this.maxFileBytes) {
      // Same rule as the size check of the YAML loader, which applies it to sources that do not stat.
      out.push({
        path: rel,
        problem: `file is ${st.size} bytes; the limit is ${this.maxFileBytes} bytes`,
        problemRule: 'file-size',
      });
      return;
    }
    out.push({ path: rel, bytes: readFileSync(abs) });
  }
}

/**
 * A source with some files replaced or added: checks a planned edit before anything is written to disk.
 * An override whose path the base does not list (a new version card) is added after the base's entries.
 */
export class OverlaySource implements RegistrySource {
  readonly label: string;
  private readonly base: RegistrySource;
  private readonly overrides: Map<string, Buffer>;
  constructor(base: RegistrySource, overrides: Map<string, Buffer>) {
    this.base = base;
    this.overrides = overrides;
    this.label = base.label;
  }
  entries(): SourceEntry[] {
    const entries = this.base.entries();
    const listed = new Set(entries.map((e) => e.path));
    const out = entries.map((e) =>
      this.overrides.has(e.path) ? { path: e.path, bytes: this.overrides.get(e.path)! } : e,
    );
    for (const [path, bytes] of [...this.overrides].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!listed.has(path)) out.push({ path, bytes });
    }
    return out;
  }
}
