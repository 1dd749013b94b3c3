// Taking a newer release of the template's toolkit into a repository made from it. A repository made
// from a template shares no history with it, so there is nothing to merge: upgrade replaces the
// toolkit paths (src/, actions/, schemas/, workflows…) with the release's files, deletes the toolkit
// files the release dropped, and never touches the team's registry (models/, environments/), README.md,
// CODEOWNERS, .gitignore or anything else outside those paths.
//
// "Dropped by the release" needs the previous release's file list: upgrade writes it to
// .model-gitops-toolkit.json each time. Before the first upgrade the repository's first commit (the
// template snapshot "Use this template" creates) stands in. A file in no previous release is the
// team's own and is kept; so is a file the team changed that the release dropped, and a file the team
// deleted stays deleted unless the release changed it. Files the team changed that the release also
// changed are replaced (the team's version stays in git history: upgrade refuses to run over
// uncommitted changes) and marked for review.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { git, gitBytes, isGitRepo, runGit } from '../lib/git.ts';
import { sha256Hex } from '../lib/hash.ts';
import {
  type FileState,
  type ReleaseInfo,
  isToolkitPath,
  lsFiles,
  fileState,
  readRelease,
  TOOLKIT_PATHS,
} from './toolkit-release.ts';

export { isToolkitPath, type ReleaseInfo, TOOLKIT_DIRS, TOOLKIT_FILES, TOOLKIT_PATHS } from './toolkit-release.ts';

/** Where upgrade records the release it brought in (the next upgrade's "previous release"). */
export const RECORD_FILE = '.model-gitops-toolkit.json';

export type UpgradeChange =
  | { path: string; action: 'add'; review?: string }
  | { path: string; action: 'update'; review?: string }
  | { path: string; action: 'delete' }
  | { path: string; action: 'keep'; why: string };

export interface UpgradePlan {
  release: ReleaseInfo;
  /** What "the previous release" was taken from. */
  baseline: { kind: 'record' | 'first-commit' | 'none'; label: string };
  changes: UpgradeChange[];
  /** Toolkit files identical in the repository and the release. */
  unchanged: number;
  notes: string[];
}

export interface UpgradeOptions {
  /** The registry repository to upgrade (its top folder). */
  repo: string;
  /** A folder holding the newer template (a checkout or an unpacked release), or a git URL or path. */
  from: string;
  /** A tag or branch of a git source (cloned with `git clone --depth 1 --branch REF`). */
  ref?: string;
  dryRun?: boolean;
}

export interface UpgradeResult extends UpgradePlan {
  dryRun: boolean;
  /** Whether RECORD_FILE was (or, with dryRun, would be) written. */
  record: boolean;
}

export function upgradeToolkit(o: UpgradeOptions): UpgradeResult {
  const repo = checkTarget(o.repo);
  const tmp: string[] = [];
  try {
    const release = readRelease(o.from, o.ref, tmp);
    const local = trackedToolkitFiles(repo);
    const baseline = readBaseline(repo);
    const plan = planUpgrade(local, release.files, baseline.files);
    const result: UpgradeResult = {
      release: release.info,
      baseline: { kind: baseline.kind, label: baseline.label },
      changes: plan.changes,
      unchanged: plan.unchanged,
      notes: [...release.notes, ...baseline.notes],
      dryRun: !!o.dryRun,
      record: false,
    };
    for (const c of plan.changes) if (c.action !== 'keep') checkWritablePath(repo, c.path);
    const record = recordText(release.info, release.files);
    const recordPath = join(repo, RECORD_FILE);
    result.record = !existsSync(recordPath) || readFileSync(recordPath, 'utf8') !== record;
    if (!o.dryRun) {
      applyPlan(repo, plan.changes, release.files);
      if (result.record) writeFileSync(recordPath, record);
    }
    return result;
  } finally {
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  }
}

// ---- the plan --------------------------------------------------------------------------------------

/** Compares the repository's toolkit files with the release's, against the previous release's digests. */
export function planUpgrade(
  local: ReadonlyMap<string, FileState>,
  release: ReadonlyMap<string, FileState>,
  baseline: ReadonlyMap<string, string> | undefined,
): { changes: UpgradeChange[]; unchanged: number } {
  const changes: UpgradeChange[] = [];
  let unchanged = 0;
  const paths = [...new Set([...local.keys(), ...release.keys()])].sort();
  for (const path of paths) {
    const l = local.get(path);
    const r = release.get(path);
    const b = baseline?.get(path);
    if (r && !l) {
      // Deleted here after the previous release: stays deleted unless the release changed it.
      if (b !== undefined && b === r.sha256)
        changes.push({ path, action: 'keep', why: 'you deleted it, and the release did not change it' });
      else if (b !== undefined)
        changes.push({ path, action: 'add', review: 'you deleted it, but the release changed it: it is back' });
      else changes.push({ path, action: 'add' });
    } else if (r && l) {
      if (l.sha256 === r.sha256 && l.executable === r.executable && !l.symlink === !r.symlink) {
        unchanged++;
        continue;
      }
      let review: string | undefined;
      if (baseline && b === undefined) review = 'yours was not in the previous release; it is replaced';
      else if (b !== undefined && l.sha256 !== b && r.sha256 !== b)
        review = 'you changed it and so did the release; yours is replaced';
      changes.push(review ? { path, action: 'update', review } : { path, action: 'update' });
    } else if (l) {
      if (b !== undefined && b === l.sha256) changes.push({ path, action: 'delete' });
      else if (b !== undefined)
        changes.push({ path, action: 'keep', why: 'the release dropped it, but you changed it: delete it if unused' });
      else changes.push({ path, action: 'keep', why: 'yours: in no release' });
    }
  }
  return { changes, unchanged };
}

// ---- the target repository -------------------------------------------------------------------------

/** The repository's top folder, with no uncommitted changes in toolkit paths. */
function checkTarget(repoArg: string): string {
  if (!existsSync(repoArg) || !statSync(repoArg).isDirectory())
    throw new UserError(`repository folder not found: ${repoArg}`);
  if (!isGitRepo(repoArg))
    throw new UserError(
      `${repoArg} is not a git repository: upgrade works on a git checkout, so \`git diff\` shows what it changed and nothing is lost`,
    );
  const top = git(repoArg, ['rev-parse', '--show-toplevel']).trim();
  if (realpathSync(top) !== realpathSync(repoArg))
    throw new UserError(`--repo ${repoArg} is inside the repository ${top}; give its top folder`);
  if (runGit(top, ['rev-parse', '--verify', '--quiet', 'HEAD']).status !== 0)
    throw new UserError(`${repoArg} has no commits yet; commit the repository first`);
  const status = gitBytes(top, [
    '--literal-pathspecs',
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=all',
    '--',
    ...TOOLKIT_PATHS,
    RECORD_FILE,
  ]).toString('utf8');
  const dirty: string[] = [];
  const parts = status.split('\0');
  for (let i = 0; i < parts.length; i++) {
    const rec = parts[i]!;
    if (rec === '') continue;
    dirty.push(rec.slice(3));
    if (rec[0] === 'R' || rec[0] === 'C') i++; // the rename's source path follows
  }
  if (dirty.length > 0) {
    const shown = dirty.slice(0, 20).map((p) => `  ${p}`);
    if (dirty.length > 20) shown.push(`  … and ${dirty.length - 20} more`);
    throw new UserError(
      `${repoArg} has uncommitted changes in toolkit paths; commit or discard them first, so upgrade cannot lose them:\n${shown.join('\n')}`,
    );
  }
  return top;
}

/** The repository's committed toolkit files (the working tree equals them: checkTarget saw no changes). */
function trackedToolkitFiles(repo: string): Map<string, FileState> {
  const out = new Map<string, FileState>();
  for (const e of lsFiles(repo)) {
    const abs = join(repo, ...e.path.split('/'));
    if (e.mode !== '100644' && e.mode !== '100755' && e.mode !== '120000') continue;
    const f = fileState(abs, lstatSync(abs), e.mode === '100755');
    if (f) out.set(e.path, f);
  }
  return out;
}

interface Baseline {
  kind: UpgradePlan['baseline']['kind'];
  label: string;
  files: Map<string, string> | undefined;
  notes: string[];
}

/** The previous release's toolkit files (path -> sha256): the record, else the first commit. */
function readBaseline(repo: string): Baseline {
  const notes: string[] = [];
  const recordPath = join(repo, RECORD_FILE);
  if (existsSync(recordPath)) {
    try {
      const r = JSON.parse(readFileSync(recordPath, 'utf8')) as { files?: unknown; release?: { commit?: unknown } };
      if (r.files && typeof r.files === 'object' && !Array.isArray(r.files)) {
        const files = new Map<string, string>();
        for (const [p, h] of Object.entries(r.files as Record<string, unknown>))
          if (typeof h === 'string' && isToolkitPath(p)) files.set(p, h);
        const commit = typeof r.release?.commit === 'string' ? ` (${r.release.commit.slice(0, 12)})` : '';
        return { kind: 'record', label: `${RECORD_FILE}${commit}`, files, notes };
      }
    } catch {
      /* fall through to the first commit */
    }
    notes.push(`${RECORD_FILE} could not be read; the first commit stands in for the previous release`);
  }
  const roots = git(repo, ['rev-list', '--max-parents=0', 'HEAD']).trim().split('\n').filter(Boolean);
  const root = roots[roots.length - 1];
  if (!root) return { kind: 'none', label: 'none', files: undefined, notes };
  const files = new Map<string, string>();
  for (const [path, bytes] of treeBlobs(repo, root)) files.set(path, sha256Hex(bytes));
  return { kind: 'first-commit', label: `the first commit ${root.slice(0, 12)}`, files, notes };
}

/** Regular files under the toolkit paths at `commit`, with their bytes (one `cat-file --batch`). */
function treeBlobs(repo: string, commit: string): Map<string, Buffer> {
  const listing = gitBytes(repo, ['--literal-pathspecs', 'ls-tree', '-r', '-z', commit, '--', ...TOOLKIT_PATHS])
    .toString('utf8')
    .split('\0')
    .filter(Boolean);
  const wanted: { path: string; oid: string }[] = [];
  for (const rec of listing) {
    const tab = rec.indexOf('\t');
    const [, type, oid] = rec.slice(0, tab).split(/ +/);
    const path = rec.slice(tab + 1);
    if (type === 'blob' && isToolkitPath(path)) wanted.push({ path, oid: oid! }); // a symlink's blob is its target
  }
  const out = new Map<string, Buffer>();
  if (wanted.length === 0) return out;
  const batch = gitBytes(repo, ['cat-file', '--batch'], Buffer.from(wanted.map((w) => `${w.oid}\n`).join('')));
  let at = 0;
  for (const w of wanted) {
    const nl = batch.indexOf(0x0a, at);
    const header = batch.subarray(at, nl).toString('latin1').split(' ');
    const len = Number(header[2]);
    out.set(w.path, batch.subarray(nl + 1, nl + 1 + len));
    at = nl + 1 + len + 1;
  }
  return out;
}

// ---- the release -----------------------------------------------------------------------------------

function checkWritablePath(repo: string, path: string): void {
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new UserError(`unsafe path ${path}`);
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    let st;
    try {
      st = lstatSync(join(repo, ...parts.slice(0, i)));
    } catch {
      return;
    }
    if (st.isSymbolicLink()) throw new UserError(`${prefix} is a symlink; refusing to write ${path} through it`);
    if (!st.isDirectory()) throw new UserError(`${prefix} is not a folder here, so ${path} cannot be written`);
  }
  try {
    if (lstatSync(join(repo, ...parts)).isDirectory())
      throw new UserError(`${path} is a folder here but a file in the release; move it away first`);
  } catch (e) {
    if (e instanceof UserError) throw e;
  }
}

function applyPlan(repo: string, changes: readonly UpgradeChange[], release: ReadonlyMap<string, FileState>): void {
  for (const c of changes) {
    if (c.action !== 'delete') continue;
    const abs = join(repo, ...c.path.split('/'));
    unlinkSync(abs);
    pruneEmptyFolders(repo, dirname(abs));
  }
  for (const c of changes) {
    if (c.action !== 'add' && c.action !== 'update') continue;
    const f = release.get(c.path)!;
    const abs = join(repo, ...c.path.split('/'));
    mkdirSync(dirname(abs), { recursive: true });
    let existing: Stats | undefined;
    try {
      existing = lstatSync(abs);
    } catch {
      /* a new file */
    }
    // A link is replaced, never written through; a file becoming a link makes way for it.
    if (existing && (existing.isSymbolicLink() || f.symlink)) unlinkSync(abs);
    if (f.symlink) {
      symlinkSync(f.bytes.toString(), abs);
      continue;
    }
    writeFileSync(abs, f.bytes);
    chmodSync(abs, f.executable ? 0o755 : 0o644);
  }
}

function pruneEmptyFolders(repo: string, dir: string): void {
  const top = resolve(repo);
  for (let d = resolve(dir); d !== top && d.startsWith(`${top}/`); d = dirname(d)) {
    if (readdirSync(d).length > 0) return;
    rmdirSync(d);
  }
}

function recordText(info: ReleaseInfo, files: ReadonlyMap<string, FileState>): string {
  const sorted = Object.fromEntries(
    [...files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => [p, f.sha256]),
  );
  return `${JSON.stringify(
    {
      about:
        'Written by `model-gitops upgrade`: the toolkit release this repository runs and its files (sha256), so the next upgrade knows which files a newer release dropped. Commit it with the upgrade.',
      release: info,
      files: sorted,
    },
    null,
    2,
  )}\n`;
}
