// What a toolkit release is: the paths that belong to the template, and reading a release's files
// from a checkout, a plain folder or a git URL (cloned shallow into a temp folder).
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { git, gitBytes, runGit } from '../lib/git.ts';
import { sha256Hex } from '../lib/hash.ts';

/** Folders of the toolkit: everything under them belongs to the template. */
export const TOOLKIT_DIRS = [
  '.ci',
  '.github/workflows',
  'actions',
  'bench',
  'benchmarks',
  'bin',
  'docs',
  'examples',
  'schemas',
  'scripts',
  'src',
  'test',
] as const;
/** Single files of the toolkit at the repository's top. */
export const TOOLKIT_FILES = [
  'BENCHMARKS.md',
  'biome.json',
  'package-lock.json',
  'package.json',
  'tsconfig.json',
  'vitest.config.ts',
] as const;
export const TOOLKIT_PATHS: readonly string[] = [...TOOLKIT_DIRS, ...TOOLKIT_FILES];

/** Names never taken from a release that is a plain folder (not a git checkout). */
const FOLDER_JUNK = new Set(['.git', 'node_modules', '__pycache__', '.DS_Store']);

export function isToolkitPath(path: string): boolean {
  return (
    (TOOLKIT_FILES as readonly string[]).includes(path) ||
    TOOLKIT_DIRS.some((d) => path.startsWith(`${d}/`) && path.length > d.length + 1)
  );
}

export interface ReleaseInfo {
  /** The --from as given, without credentials. */
  from: string;
  ref?: string;
  /** The release's commit, when it came from git. */
  commit?: string;
}

export interface FileState {
  bytes: Buffer;
  executable: boolean;
  /** A symlink (its bytes are the link text), taken and written as a link, never followed. */
  symlink?: boolean;
  sha256: string;
}

export interface Release {
  info: ReleaseInfo;
  files: Map<string, FileState>;
  notes: string[];
}

/** Without credentials (`https://user:token@host/…` -> `https://host/…`), for output and the record. */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

function isPlainGitCheckout(dir: string): boolean {
  return existsSync(join(dir, '.git'));
}

export function readRelease(from: string, ref: string | undefined, tmp: string[]): Release {
  if (from === '' || from.startsWith('-')) throw new UserError(`--from "${from}" is not a folder or git URL`);
  if (ref !== undefined && (ref === '' || ref.startsWith('-'))) throw new UserError(`--ref "${ref}" is not a git ref`);
  const info: ReleaseInfo = { from: redactUrl(from), ...(ref !== undefined ? { ref } : {}) };
  const notes: string[] = [];
  const localDir = existsSync(from) && statSync(from).isDirectory() ? resolve(from) : undefined;
  if (localDir && ref !== undefined && !isPlainGitCheckout(localDir) && !looksLikeBareRepo(localDir))
    throw new UserError(`--ref needs a git repository, and ${from} is a plain folder`);
  let files: Map<string, FileState>;
  if (localDir && ref === undefined && isPlainGitCheckout(localDir)) {
    // A checkout of the newer template: its tracked files as they are on disk.
    files = checkoutFiles(localDir, notes);
    info.commit = git(localDir, ['rev-parse', 'HEAD']).trim();
    const dirty = git(localDir, ['--literal-pathspecs', 'status', '--porcelain', '--', ...TOOLKIT_PATHS]).trim();
    if (dirty !== '')
      notes.push(`${from} has uncommitted changes in toolkit paths: its files are taken as they are on disk`);
  } else if (localDir && ref === undefined && !looksLikeBareRepo(localDir)) {
    files = folderFiles(localDir, notes);
  } else {
    // A git URL, a bare repository, or a ref of a local repository: a shallow clone of that one commit.
    const parent = mkdtempSync(join(tmpdir(), 'model-gitops-upgrade-'));
    tmp.push(parent);
    const dest = join(parent, 'release');
    const url = localDir ?? from;
    const r = runGit(parent, [
      '-c',
      'advice.detachedHead=false',
      'clone',
      '--quiet',
      '--no-local',
      '--depth',
      '1',
      ...(ref !== undefined ? ['--branch', ref] : []),
      '--',
      url,
      dest,
    ]);
    if (r.status !== 0)
      throw new UserError(
        `git clone of ${redactUrl(from)}${ref !== undefined ? ` at ${ref}` : ''} failed: ${r.stderr.trim() || `exit ${r.status}`}${ref !== undefined ? ' (--ref takes a tag or branch)' : ''}`,
      );
    files = checkoutFiles(dest, notes);
    info.commit = git(dest, ['rev-parse', 'HEAD']).trim();
  }
  if (![...files.keys()].some((p) => p.startsWith('src/')) || !files.has('schemas/model.schema.json'))
    throw new UserError(
      `${redactUrl(from)} does not look like a model-gitops release (no src/ or schemas/model.schema.json)`,
    );
  return { info, files, notes };
}

function looksLikeBareRepo(dir: string): boolean {
  return existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects')) && existsSync(join(dir, 'refs'));
}

/** Tracked toolkit files of a git work tree, read from disk (symlinks as links); submodules are left out. */
function checkoutFiles(dir: string, notes: string[]): Map<string, FileState> {
  const out = new Map<string, FileState>();
  for (const e of lsFiles(dir)) {
    if (e.mode !== '100644' && e.mode !== '100755' && e.mode !== '120000') {
      notes.push(`${e.path}: not a regular file in the release (a submodule?); not taken`);
      continue;
    }
    const abs = join(dir, ...e.path.split('/'));
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      continue; // deleted in that checkout, not committed yet
    }
    const f = fileState(abs, st, e.mode === '100755');
    if (f) out.set(e.path, f);
  }
  return out;
}

/** Toolkit files of a plain folder (an unpacked release), without .git, node_modules or caches. */
function folderFiles(dir: string, notes: string[]): Map<string, FileState> {
  const out = new Map<string, FileState>();
  const add = (rel: string) => {
    const abs = join(dir, ...rel.split('/'));
    const st = lstatSync(abs);
    const f = fileState(abs, st, (st.mode & 0o111) !== 0);
    if (f) out.set(rel, f);
    else notes.push(`${rel}: not a regular file or symlink in the release; not taken`);
  };
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, ...rel.split('/')), { withFileTypes: true })) {
      if (FOLDER_JUNK.has(e.name)) continue;
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else add(child);
    }
  };
  for (const f of TOOLKIT_FILES) if (existsSync(join(dir, f))) add(f);
  for (const d of TOOLKIT_DIRS) {
    const abs = join(dir, ...d.split('/'));
    if (existsSync(abs) && lstatSync(abs).isDirectory()) walk(d);
  }
  return out;
}

/** A regular file or a symlink as the plan compares it; anything else undefined. */
export function fileState(abs: string, st: Stats, executable: boolean): FileState | undefined {
  if (st.isSymbolicLink()) {
    const bytes = Buffer.from(readlinkSync(abs));
    return { bytes, executable: false, symlink: true, sha256: sha256Hex(bytes) };
  }
  if (!st.isFile()) return undefined;
  const bytes = readFileSync(abs);
  return { bytes, executable, sha256: sha256Hex(bytes) };
}

export function lsFiles(dir: string): { mode: string; path: string }[] {
  const out: { mode: string; path: string }[] = [];
  const listing = gitBytes(dir, ['--literal-pathspecs', 'ls-files', '-s', '-z', '--', ...TOOLKIT_PATHS]).toString(
    'utf8',
  );
  const seen = new Set<string>();
  for (const rec of listing.split('\0')) {
    if (rec === '') continue;
    const tab = rec.indexOf('\t');
    const path = rec.slice(tab + 1);
    if (seen.has(path) || !isToolkitPath(path)) continue; // a conflicted index lists a path once per stage
    seen.add(path);
    out.push({ mode: rec.slice(0, tab).split(' ')[0]!, path });
  }
  return out;
}

// ---- applying --------------------------------------------------------------------------------------

/** Every folder on the way to `path` must be a real folder inside the repository (no symlinks). */
