// `push` as a library call, shared by the CLI and the upload-weights action: check the model folder,
// upload it to the store (content-addressed, deduplicated), derive the version card, validate the whole
// registry with that card in it, and only then write the card. Progress goes through a callback.
//
// Order matters:
// 1. Everything a person must supply for a NEW card is checked before a single byte is uploaded.
// 2. The card is validated (OverlaySource) before it is written: an invalid card is never written.
//    Blobs uploaded by then stay in the store, which is harmless: they are content-addressed, never
//    overwritten, and the next push finds them and sends nothing.
import { readFile } from 'node:fs/promises';
import { existsSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import semver from 'semver';
import { describeMissing, missingFields, newCardText, updateCardText, weightFacts } from './card-writer.ts';
import type { CardInputs, WeightFacts } from './card-writer.ts';
import type { Diagnostic } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { writeFileAtomic } from '../lib/fs-atomic.ts';
import { git, isGitRepo } from '../lib/git.ts';
import { MODEL_NAME } from '../registry/load.ts';
import { OverlaySource, WorkingTreeSource } from '../registry/source.ts';
import type { TensorInfo } from '../formats/safetensors.ts';
import type { BaseRef, BaseRelation } from '../registry/types.ts';
import { scanFolder, type ScanOptions, type ScannedFile } from './intake/scan.ts';
import { detectHfCacheSnapshot } from './intake/hf-cache.ts';
import { inspectFolder } from './intake/inspect.ts';
import { resolveBase, parseBaseFlag } from './intake/base.ts';
import { openStore, pushFolder } from '../store/index.ts';
import type { PushFileResult, PushProgress, S3StoreOptions } from '../store/index.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';

// Which store, and URL hygiene, live with the store: src/store/default.ts.
export {
  DEFAULT_STORE_DIR,
  STORE_ENV,
  hasUserinfo,
  redactUrl,
  resolveStoreUrl,
  urlCredentials,
} from '../store/default.ts';
import { redactUrl } from '../store/default.ts';
import { EXIT } from '../lib/exit-codes.ts';

/** Where local state lives, under the registry repository (git-ignored): hash cache, resumable uploads. */
export const STATE_DIR = '.model-gitops';

export interface ModelFile {
  /** '/'-separated path inside the folder. */
  path: string;
  size: number;
}

/**
 * The files a push would record (see intake/scan.ts for what is refused and what is skipped): a symlink
 * that leads outside the folder (or nowhere, or to a folder), anything that is not a regular file, git-LFS
 * pointers, pickle-based files (unless allowed); the default ignore list and .modelignore are skipped.
 */
export async function scanModelFolder(dir: string, options: ScanOptions = {}): Promise<ModelFile[]> {
  return (await scanFolder(dir, options)).files.map((f) => ({ path: f.path, size: f.size }));
}

export interface PushModelOptions {
  dir: string;
  model: string;
  version: string;
  /** Registry repository (holds models/). */
  repo: string;
  /** Already resolved (resolveStoreUrl). */
  storeUrl: string;
  dryRun?: boolean;
  /** Write a new card even when person-supplied fields are missing, as placeholders that fail validation. */
  draft?: boolean;
  summary?: string;
  family?: string;
  codeRepository?: string;
  codeCommit?: string;
  /** Training-code checkout: its HEAD is the default commit and its GitHub remote the default repository. */
  codeDir?: string;
  /** VERSION or MODEL@VERSION whose interface a new card copies. Defaults to `parent` when that is given. */
  interfaceFrom?: string;
  /** VERSION or MODEL@VERSION the weights were trained from (lineage.parent). */
  parent?: string;
  /** MODEL@RANGE this version is derived from (the card's base); the relation defaults from the folder. */
  base?: string;
  baseRelation?: BaseRelation;
  /** Push pickle-based files (.bin, .pt, ...): marked in the card, warned about by validate. */
  allowPickle?: boolean;
  /** The folder must be a Hugging Face cache snapshot (it is detected anyway; this makes it required). */
  fromHfCache?: boolean;
  s3?: S3StoreOptions;
  onProgress?: (p: PushProgress) => void;
  /** Called once the folder is scanned, before hashing: the files and sizes about to be pushed. */
  onScanned?: (files: ModelFile[]) => void;
}

export interface PushedFile {
  path: string;
  size: number;
  sha256: string;
  /** Bytes sent in this run. */
  sent: number;
  /** Already in the store: nothing sent (dry run: would not be sent). */
  deduplicated: boolean;
  /** Bytes an interrupted earlier push had sent and this run reused. */
  resumed: number;
}

export type CardStatus = 'created' | 'updated' | 'unchanged';

export interface PushModelResult {
  model: string;
  version: string;
  store: string;
  dryRun: boolean;
  card: {
    /** Repository-relative path, e.g. models/m/versions/1.0.0.yaml. */
    path: string;
    status: CardStatus;
    /** Whether the file was written by this run. */
    written: boolean;
    draft: boolean;
    /** Fields changed in an existing card. */
    changes: string[];
    /** Fields left as placeholders (draft). */
    placeholders: string[];
    text: string;
  };
  files: PushedFile[];
  totals: {
    files: number;
    bytes: number;
    sentBytes: number;
    deduplicatedBytes: number;
    resumedBytes: number;
    toSendBytes: number;
  };
  seconds: number;
  /** Bytes sent per second of upload time (0 when nothing was sent). */
  throughputBytesPerSecond: number;
  valid: boolean;
  errors: number;
  diagnostics: Diagnostic[];
  notes: string[];
}

function parseRef(flag: string, value: string, model: string): { model: string; version: string } {
  const at = value.lastIndexOf('@');
  const ref = at > 0 ? { model: value.slice(0, at), version: value.slice(at + 1) } : { model, version: value };
  if (!MODEL_NAME.test(ref.model) || !semver.valid(ref.version))
    throw new UserError(`${flag} "${value}" must be VERSION or MODEL@VERSION, e.g. 2.0.0 or ${model}@2.0.0`);
  return ref;
}

/** owner/name from a GitHub remote URL (https, ssh or scp-like), else undefined. */
export function githubRepoFromRemote(url: string): string | undefined {
  const m = /github\.com[:/]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url.trim());
  return m ? `${m[1]}/${m[2]}` : undefined;
}

function codeFromDir(codeDir: string, notes: string[]): { repository?: string; commit?: string } {
  if (!existsSync(codeDir) || !isGitRepo(codeDir)) throw new UserError(`--code-dir ${codeDir} is not a git checkout`);
  const commit = git(codeDir, ['rev-parse', 'HEAD']).trim();
  if (git(codeDir, ['status', '--porcelain', '--untracked-files=no']).trim() !== '') {
    notes.push(
      `${codeDir} has uncommitted changes: lineage.code.commit ${commit.slice(0, 12)} may not be the code that trained these weights`,
    );
  }
  let repository: string | undefined;
  try {
    repository = githubRepoFromRemote(git(codeDir, ['remote', 'get-url', 'origin']));
  } catch {
    repository = undefined;
  }
  return { commit, ...(repository ? { repository } : {}) };
}

export async function pushModel(o: PushModelOptions): Promise<PushModelResult> {
  if (!MODEL_NAME.test(o.model))
    throw new UserError(
      `--model "${o.model}" is not a valid model name: lower-case letters, digits and single hyphens, starting with a letter`,
    );
  const parsed = semver.parse(o.version);
  if (!parsed || `${parsed.version}${parsed.build.length ? `+${parsed.build.join('.')}` : ''}` !== o.version)
    throw new UserError(`--version "${o.version}" is not a semantic version such as 1.4.2`);
  const repo = resolve(o.repo);
  const source = new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  const cardPath = `models/${o.model}/versions/${o.version}.yaml`;
  const cardAbs = join(repo, ...cardPath.split('/'));
  const cardStat = (() => {
    try {
      return lstatSync(cardAbs);
    } catch {
      return undefined;
    }
  })();
  if (cardStat && !cardStat.isFile())
    throw new UserError(`${cardPath} exists but is not a regular file; refusing to write through it`);
  const existing = cardStat !== undefined;
  const notes: string[] = [];

  // A Hugging Face cache snapshot: its files are symlinks into the repo's blobs/, and its origin is lineage.
  const snapshot = detectHfCacheSnapshot(o.dir);
  if (o.fromHfCache && !snapshot)
    throw new UserError(
      `--from-hf-cache: ${o.dir} is not a Hugging Face cache snapshot (expected <cache>/models--ORG--NAME/snapshots/<revision>/ or the models--ORG--NAME folder)`,
    );
  if (snapshot)
    notes.push(
      `Hugging Face cache snapshot of ${snapshot.source.repo} at ${snapshot.source.revision}${snapshot.ref ? ` (refs/${snapshot.ref})` : ''}: recorded as lineage.source`,
    );
  const dir = snapshot?.dir ?? resolve(o.dir);
  const scan = await scanFolder(dir, {
    ...(snapshot ? { linkRoot: snapshot.root } : {}),
    ...(o.allowPickle ? { allowPickle: true } : {}),
  });
  const scannedFiles: ScannedFile[] = scan.files;
  const scanned: ModelFile[] = scannedFiles.map((f) => ({ path: f.path, size: f.size }));
  const skipped = scan.ignored.filter((i) => !i.path.startsWith(`${STATE_DIR}/`));
  if (skipped.length)
    notes.push(
      `not pushed (ignore rules): ${skipped
        .slice(0, 8)
        .map((i) => `${i.path} [${i.rule}]`)
        .join(', ')}${skipped.length > 8 ? `, and ${skipped.length - 8} more` : ''}`,
    );
  const pickles = scannedFiles.filter((f) => f.pickle).map((f) => f.path);
  if (pickles.length)
    notes.push(
      `--allow-pickle: ${pickles.join(', ')} ${pickles.length === 1 ? 'is' : 'are'} pickle-based (loading runs code); marked pickle: true in the card`,
    );
  const folder = await inspectFolder(scannedFiles, {
    ...(o.codeDir ? { codeDir: o.codeDir } : {}),
    ...(snapshot ? { source: snapshot.source } : {}),
  });
  notes.push(...folder.notes);
  const config = folder.config;
  const allTensors: TensorInfo[] = [...folder.tensors.values()].flat();

  // A new card: gather what a person must supply, and stop before uploading if something is missing.
  let inputs: CardInputs = { name: o.model, version: o.version };
  if (!existing) {
    const code = o.codeDir ? codeFromDir(o.codeDir, notes) : {};
    const parent = o.parent ? parseRef('--parent', o.parent, o.model) : undefined;
    const ifaceRef = o.interfaceFrom ? parseRef('--interface-from', o.interfaceFrom, o.model) : parent;
    const readCard = async (ref: { model: string; version: string }, flag: string, why: string) => {
      const p = `models/${ref.model}/versions/${ref.version}.yaml`;
      try {
        return { label: p, text: await readFile(join(repo, p), 'utf8') };
      } catch {
        throw new UserError(`${flag}: ${p} does not exist in ${o.repo}, so there is no ${why}`);
      }
    };
    const interfaceFrom = ifaceRef
      ? await readCard(ifaceRef, o.interfaceFrom ? '--interface-from' : '--parent', 'interface to copy')
      : undefined;
    // A parent that is not in models/ is reported by validation (lineage.parent), not here.
    const parentCard = parent ? await readCard(parent, '--parent', 'parent card').catch(() => undefined) : undefined;
    const codeRepository = o.codeRepository ?? code.repository;
    const codeCommit = o.codeCommit ?? code.commit;
    const base: BaseRef | undefined = o.base
      ? parseBaseFlag(o.base, o.baseRelation ?? (folder.peft ? 'adapter' : (folder.readme?.baseRelation ?? 'finetune')))
      : await resolveBase(repo, folder, parentCard, o.baseRelation, notes);
    inputs = {
      ...inputs,
      ...(o.summary !== undefined ? { summary: o.summary } : {}),
      ...(o.family !== undefined ? { family: o.family } : {}),
      ...(codeRepository !== undefined ? { codeRepository } : {}),
      ...(codeCommit !== undefined ? { codeCommit } : {}),
      ...(parent ? { parent: `${parent.model}@${parent.version}` } : {}),
      ...(interfaceFrom ? { interfaceFrom } : {}),
      ...(parentCard ? { parentCard } : {}),
      ...(base ? { base } : {}),
      ...(folder.peft
        ? {
            adapter: {
              baseHint: `--base MODEL@RANGE (adapter_config.json names base_model_name_or_path ${JSON.stringify(folder.peft.baseModel ?? '')}, and no card in models/ has that as lineage.source.repo)`,
            },
          }
        : {}),
      derived: folder.derived,
    };
    const early = weightFacts(
      scanned.map((f) => ({ path: f.path, sha256: '', size: f.size })),
      allTensors,
      config,
      folder.gguf,
    );
    const missing = missingFields(inputs, early);
    if (missing.length > 0 && !o.draft) {
      throw new UserError(`${describeMissing(cardPath, missing)}\nNothing was uploaded or written.`, {
        exitCode: EXIT.violations,
      });
    }
  } else {
    const ignored = (
      ['summary', 'family', 'codeRepository', 'codeCommit', 'codeDir', 'interfaceFrom', 'parent', 'base'] as const
    ).filter((k) => o[k] !== undefined);
    if (ignored.length)
      notes.push(
        `${cardPath} exists: only its artifacts and architecture format/parameters/dtype are updated; ${ignored.length} card option(s) ignored (edit the card to change the rest)`,
      );
  }

  o.onScanned?.(scanned);
  const store = openStore(o.storeUrl, { s3: { stateDir: join(repo, STATE_DIR), ...o.s3 } });
  const started = performance.now();
  // Exactly the scanned files (ignore rules applied, links into a cache resolved), by artifact path.
  const pushed = await pushFolder({
    dir,
    files: scannedFiles.map((f) => ({ path: f.path, file: f.real })),
    store,
    dryRun: !!o.dryRun,
    stateDir: join(repo, STATE_DIR),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const seconds = (performance.now() - started) / 1000;

  const pickleSet = new Set(pickles);
  const facts: WeightFacts = weightFacts(
    pushed.map((r) => ({
      path: r.path,
      sha256: r.sha256,
      size: r.size,
      ...(pickleSet.has(r.path) ? { pickle: true } : {}),
    })),
    allTensors,
    config,
    folder.gguf,
  );

  let text: string;
  let status: CardStatus;
  let changes: string[] = [];
  let placeholders: string[] = [];
  if (existing) {
    const before = await readFile(cardAbs, 'utf8');
    const u = updateCardText(cardPath, before, facts);
    text = u.text;
    status = u.changed ? 'updated' : 'unchanged';
    changes = u.changes;
    notes.push(...u.notes);
  } else {
    const n = newCardText(inputs, facts, { draft: !!o.draft, file: cardPath });
    text = n.text;
    status = 'created';
    placeholders = n.placeholders;
    notes.push(...n.notes);
  }

  const validation = validateRegistry(new OverlaySource(source, new Map([[cardPath, Buffer.from(text)]])));
  const valid = validation.errors === 0;
  const draft = placeholders.length > 0;
  let written = false;
  if (!o.dryRun && status !== 'unchanged' && (valid || draft)) {
    await writeFileAtomic(cardAbs, text);
    written = true;
  }

  const files: PushedFile[] = pushed.map((r) => ({
    path: r.path,
    size: r.size,
    sha256: r.sha256,
    sent: r.sentBytes,
    deduplicated: r.deduplicated,
    resumed: r.resumedBytes,
  }));
  const sum = (f: (x: PushedFile) => number) => files.reduce((a, x) => a + f(x), 0);
  const sentBytes = sum((f) => f.sent);
  return {
    model: o.model,
    version: o.version,
    store: redactUrl(store.url),
    dryRun: !!o.dryRun,
    card: { path: cardPath, status, written, draft, changes, placeholders, text },
    files,
    totals: {
      files: files.length,
      bytes: sum((f) => f.size),
      sentBytes,
      deduplicatedBytes: sum((f) => (f.deduplicated ? f.size : 0)),
      resumedBytes: sum((f) => f.resumed),
      toSendBytes: o.dryRun ? sum((f) => (f.deduplicated ? 0 : f.size)) : 0,
    },
    seconds,
    throughputBytesPerSecond: sentBytes > 0 && seconds > 0 ? Math.round(sentBytes / seconds) : 0,
    valid,
    errors: validation.errors,
    diagnostics: validation.diagnostics,
    notes,
  };
}
