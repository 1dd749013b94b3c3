// Reads the registry as it is at a git commit, without a second checkout: one `git ls-tree` lists the
// files under models/ and environments/ with their modes and sizes, and one `git cat-file --batch`
// process hands over every blob. Problems are reported per file, exactly like WorkingTreeSource:
// a symlink (mode 120000), a submodule or a file over the size cap is listed with a `problem`.
import { UserError } from '../lib/errors.ts';
import { gitBytes, runGit } from '../lib/git.ts';
import { REGISTRY_ROOTS, type RegistrySource, type SourceEntry } from './source.ts';

export interface GitSourceOptions {
  /** Blobs larger than this are listed with a problem instead of being read. */
  maxFileBytes: number;
}

/** Resolves a ref to a full commit id; a ref that is not a commit is a usage error (exit 2). */
export function resolveCommit(repo: string, ref: string): string {
  // A ref that starts with "-" would be read as an option.
  if (ref === '' || ref.startsWith('-')) throw new UserError(`"${ref}" is not a git ref`);
  const r = runGit(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (r.status !== 0) {
    if (runGit(repo, ['rev-parse', '--git-dir']).status !== 0)
      throw new UserError(`${repo} is not inside a git repository`);
    throw new UserError(`base "${ref}" is not a commit in ${repo} (fetch it first, e.g. git fetch origin ${ref})`);
  }
  return r.stdout.toString().trim();
}

export class GitSource implements RegistrySource {
  readonly label: string;
  readonly commit: string;
  private readonly repo: string;
  private readonly maxFileBytes: number;

  constructor(repo: string, ref: string, options: GitSourceOptions) {
    this.repo = repo;
    this.commit = resolveCommit(repo, ref);
    this.label = `git:${ref}`;
    this.maxFileBytes = options.maxFileBytes;
  }

  entries(): SourceEntry[] {
    // -z: paths are NUL-terminated and never quoted; -l adds the blob size. Paths are relative to
    // `repo`, like the working tree's, even when the registry sits in a sub-folder of the repository.
    const listing = gitBytes(this.repo, ['ls-tree', '-r', '-z', '-l', this.commit, '--', ...REGISTRY_ROOTS]).toString(
      'utf8',
    );
    const out: SourceEntry[] = [];
    const wanted: { entry: SourceEntry; oid: string }[] = [];
    for (const record of listing.split('\0')) {
      if (record === '') continue;
      const tab = record.indexOf('\t');
      const [mode, type, oid, size] = record.slice(0, tab).split(/ +/);
      const entry: SourceEntry = { path: record.slice(tab + 1) };
      out.push(entry);
      if (mode === '120000') entry.problem = 'symlink; registry files must be regular files in the repository';
      else if (type !== 'blob') entry.problem = 'not a regular file (a submodule?)';
      else if (Number(size) > this.maxFileBytes)
        entry.problem = `file is ${size} bytes; the limit is ${this.maxFileBytes} bytes`;
      else wanted.push({ entry, oid: oid! });
    }
    if (wanted.length === 0) return sortByPath(out);

    const batch = gitBytes(this.repo, ['cat-file', '--batch'], Buffer.from(wanted.map((w) => `${w.oid}\n`).join('')));
    // Each answer: "<oid> <type> <size>\n<bytes>\n", in request order.
    let at = 0;
    for (const w of wanted) {
      const nl = batch.indexOf(0x0a, at);
      const header = batch.subarray(at, nl).toString('latin1').split(' ');
      if (header[1] !== 'blob') {
        w.entry.problem = `git could not read object ${w.oid}`;
        at = nl + 1;
        continue;
      }
      const len = Number(header[2]);
      w.entry.bytes = batch.subarray(nl + 1, nl + 1 + len);
      at = nl + 1 + len + 1;
    }
    return sortByPath(out);
  }
}

// The working tree walks models/ then environments/, each in sorted order; list in that order too
// so both sources hand over the same sequence.
function sortByPath(entries: SourceEntry[]): SourceEntry[] {
  const root = (p: string) => REGISTRY_ROOTS.indexOf(p.split('/')[0] as (typeof REGISTRY_ROOTS)[number]);
  return entries.sort((a, b) => root(a.path) - root(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
