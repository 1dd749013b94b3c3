// publishRegistry: turn the registry at one commit into the signed manifest the fleet consumes.
//
// Order of writes (each step only adds objects nothing points at yet, until the last one):
//   1. validate the registry at the commit; refuse on errors
//   2. HEAD every blob the manifest will reference (size + sha256 metadata); refuse listing the missing
//   3. CLAIM: create manifests/<sequence>.json exclusively (S3 If-None-Match: *, folder link(2)).
//      sequence = 1 + max(highest N among manifests/N.json, sequence of the currently signed manifest).
//      Exactly one publisher can create a given N; the loser re-lists and claims the next N.
//   4. TUF publication (src/trust): content-addressed targets (manifest.json + environments/<env>.json),
//      then <V>.targets.json, <S>.snapshot.json, and timestamp.json LAST: the pointer move. It is
//      guarded by the snapshot version seen in step 3's re-check (compare-and-swap), so a publication
//      that happened in between forces a re-check instead of being overwritten.
//   5. manifest.json at the store root: an unsigned convenience copy, written only after the pointer
//      moved (and re-checked against the signed pointer, so racing publishers converge on the newest).
// A crash anywhere leaves timestamp.json at the previous publication or the new one, and both only
// reference blobs verified to exist; blobs are never deleted by this toolkit.
//
// Sequences: strictly increasing across signed publications. Gaps are claims that were never signed
// (a crash, or a publisher that found its commit already included in a newer publication).
import { sha256Hex } from '../lib/hash.ts';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { artifactDigest } from '../registry/artifact-digest.ts';
import { parseReport, summarizeReport } from '../benchmark/report.ts';
import { reportKey } from '../benchmark/store.ts';
import { testbedName } from '../benchmark/testbed.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { type Diagnostic, formatDiagnostic } from '../registry/diagnostics.ts';
import { UserError, NotFoundError } from '../lib/errors.ts';
import { GitSource } from '../registry/git-source.ts';
import {
  type BenchmarkSummary, type Manifest, type ManifestDeployment, buildManifest, environmentSlice, serialiseManifest,
} from '../manifest/manifest.ts';
import type { Registry } from '../registry/load.ts';
import type { RegistrySource } from '../registry/source.ts';
import { indexKey, MANIFEST_KEY, manifestSequenceKey } from '../store/keys.ts';
import { AlreadyExistsError, type BlobStore } from '../store/types.ts';
import { verifyArtifacts, type Artifact, type ArtifactCheck } from '../store/verify.ts';
import {
  ConcurrentPublishError, DEFAULT_EXPIRIES, type Expiries, MANIFEST_TARGET, type PublishKeys, type PublicationStep,
  environmentTarget, loadPublished, publishManifest, resign, targetObjectKey,
} from '../trust/repository.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';

const DAY = 86_400;
export const DEFAULT_EXPIRES_IN = 7 * DAY;
/** The unsigned convenience copy at the store root (for readers that do not verify TUF). */
export const CONVENIENCE_MANIFEST_KEY = MANIFEST_KEY;

// ---------------------------------------------------------------------------------------------
// crash points (tests): MG_PUBLISH_CRASH_AT=<step> exits the process abruptly at that step

export type PublishStep = 'after-verify' | 'after-claim' | PublicationStep | 'after-timestamp' | 'after-convenience-copy';
export const PUBLISH_STEPS: readonly PublishStep[] = [
  'after-verify', 'after-claim', 'target-files-written', 'snapshot-claimed', 'targets-written', 'after-timestamp', 'after-convenience-copy',
];

function crashPoint(step: PublishStep): void {
  if (process.env.MG_PUBLISH_CRASH_AT === step) {
    process.stderr.write(`MG_PUBLISH_CRASH_AT: exiting at ${step}\n`);
    process.exit(97);
  }
}

// ---------------------------------------------------------------------------------------------
// errors

/** The registry has errors: nothing was written. Exit 1 like `validate`. */
export class RegistryInvalidError extends UserError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[], where: string) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      `the registry at ${where} has ${errors.length} error(s); nothing was published:\n${errors.slice(0, 20).map(formatDiagnostic).join('\n')}` +
        (errors.length > 20 ? `\n… and ${errors.length - 20} more (run model-gitops validate)` : ''),
      { exitCode: 1 },
    );
    this.name = 'RegistryInvalidError';
    this.diagnostics = diagnostics;
  }
}

export interface MissingBlob { sha256: string; size: number; blobKey: string; status: ArtifactCheck['status']; detail?: string; usedBy: string[] }

/** Referenced bytes are not in the store (or do not match): nothing was written. Exit 1. */
export class MissingBlobsError extends UserError {
  readonly missing: MissingBlob[];
  constructor(store: string, missing: MissingBlob[]) {
    const lines = missing.map((m) => `  ${m.usedBy.join(', ')}: ${m.blobKey} (${m.status}${m.detail ? `: ${m.detail}` : ''})`);
    super(
      `${missing.length} referenced file(s) are missing or wrong in ${store}; nothing was published (push them first: model-gitops push):\n${lines.join('\n')}`,
      { exitCode: 1 },
    );
    this.name = 'MissingBlobsError';
    this.missing = missing;
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

/** "7d", "12h", "30m", "90s" or a number of seconds. */
export function parseDuration(text: string, what = '--expires-in'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/.exec(text.trim());
  if (!m) throw new UserError(`${what} must be a duration like 7d, 12h, 30m or 3600 (seconds), got "${text}"`);
  const n = Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: DAY, w: 7 * DAY } as Record<string, number>)[m[2]!]!;
  if (!(n >= 60)) throw new UserError(`${what} must be at least a minute, got "${text}"`);
  return Math.round(n);
}

const sha256 = sha256Hex;

async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Whether `ancestor` is `descendant` or one of its ancestors in `repo` (false when unknown to git). */
export function commitIncludes(repo: string, descendant: string, ancestor: string): boolean {
  if (descendant === ancestor) return true;
  if (!/^[0-9a-f]{7,64}$/i.test(descendant) || !/^[0-9a-f]{7,64}$/i.test(ancestor)) return false;
  const r = spawnSync('git', ['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repo, stdio: 'ignore' });
  return r.status === 0;
}

/** The manifest without its header: what devices act on. Equal content = nothing to publish. */
function contentOf(m: Manifest): string {
  const { sequence: _s, publishedAt: _p, expiresAt: _e, source: _src, ...rest } = m;
  return canonicalJson(rest);
}

// ---------------------------------------------------------------------------------------------
// what changed between two manifests, per environment

export interface DeploymentChange { model: string; before: string | null; after: string | null }
export interface EnvironmentChanges { environment: string; status: 'added' | 'removed' | 'changed' | 'unchanged'; changes: DeploymentChange[] }

export function describeDeployment(d: ManifestDeployment): string {
  const parts = [d.version];
  if (d.canary) parts.push(`canary ${d.canary.version} ${d.canary.weight}%`);
  if (d.rollbackWindow?.length) parts.push(`rollback ${d.rollbackWindow.join(',')}`);
  return parts.join(', ');
}

/** Per environment (union of both), the models whose deployment changed. `prev` undefined = first publication. */
export function manifestChanges(prev: Manifest | undefined, next: Manifest): EnvironmentChanges[] {
  const names = [...new Set([...Object.keys(prev?.environments ?? {}), ...Object.keys(next.environments)])].sort();
  return names.map((environment) => {
    const a = prev?.environments[environment];
    const b = next.environments[environment];
    const models = [...new Set([...Object.keys(a?.models ?? {}), ...Object.keys(b?.models ?? {})])].sort();
    const changes: DeploymentChange[] = [];
    for (const model of models) {
      const before = a?.models[model] ? describeDeployment(a.models[model]!) : null;
      const after = b?.models[model] ? describeDeployment(b.models[model]!) : null;
      // Same deployment, but what it points at changed (e.g. a benchmark summary arrived for the version).
      const entries = (m: Manifest | undefined, d: ManifestDeployment | undefined) => (d && m
        ? canonicalJson([d.version, d.canary?.version, ...(d.rollbackWindow ?? [])].filter(Boolean).map((ver) => m.models[model]?.versions[ver!] ?? null))
        : '');
      if (before !== after) changes.push({ model, before, after });
      else if (b && entries(prev, a?.models[model]) !== entries(next, b.models[model])) changes.push({ model, before, after: `${after} (metadata updated)` });
    }
    const status = !a ? 'added' : !b ? 'removed' : changes.length ? 'changed' : 'unchanged';
    return { environment, status, changes };
  });
}

export function formatChanges(envs: EnvironmentChanges[]): string[] {
  const out: string[] = [];
  for (const e of envs) {
    if (e.status === 'unchanged') { out.push(`${e.environment}: unchanged`); continue; }
    out.push(`${e.environment}${e.status === 'changed' ? '' : ` (${e.status})`}:`);
    for (const c of e.changes) out.push(`  ${c.model}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// reading the store

export interface CurrentPublication {
  /** Snapshot version timestamp.json points at (0: nothing published). */
  snapshotVersion: number;
  timestampVersion: number;
  targetsVersion: number;
  manifest?: Manifest;
  bytes?: Buffer;
  sha256?: string;
  /** Earliest expiry of timestamp, snapshot and targets. */
  expires?: string;
}

/** What timestamp.json points at now, read straight from the store (publisher side). */
export async function readCurrentPublication(store: BlobStore): Promise<CurrentPublication> {
  const io = new BlobTrustStore(store);
  const cur = await loadPublished(io);
  if (!cur) return { snapshotVersion: 0, timestampVersion: 0, targetsVersion: 0 };
  const base = {
    snapshotVersion: cur.snapshot.signed.version,
    timestampVersion: cur.timestamp.signed.version,
    targetsVersion: cur.targetsVersion,
    expires: [cur.timestamp.signed.expires, cur.snapshot.signed.expires, cur.targets.signed.expires].sort()[0]!,
  };
  const t = cur.targets.signed.targets[MANIFEST_TARGET];
  const digest = t?.hashes['sha256'];
  if (!digest) return base;
  const bytes = await io.get(targetObjectKey(MANIFEST_TARGET, digest));
  if (!bytes) throw new UserError(`targets version ${cur.targetsVersion} names ${MANIFEST_TARGET} ${digest.slice(0, 12)}… but ${targetObjectKey(MANIFEST_TARGET, digest)} is missing from ${store.url}`);
  return { ...base, bytes, sha256: digest, manifest: JSON.parse(bytes.toString('utf8')) as Manifest };
}

/** Every N with a manifests/N.json in the store, ascending. */
export async function listManifestSequences(store: BlobStore): Promise<number[]> {
  const out: number[] = [];
  for await (const o of store.list('manifests/')) {
    const m = /^manifests\/(\d+)\.json$/.exec(o.key);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** Benchmark summaries for every version the manifest references, from reports/<model>/<version>/<testbed>.json. */
export async function loadBenchmarkSummaries(store: BlobStore, registry: Registry, versions: readonly { model: string; version: string }[]): Promise<Map<string, BenchmarkSummary>> {
  const out = new Map<string, BenchmarkSummary>();
  await mapPool(versions, 16, async ({ model, version }) => {
    const entry = registry.models.get(model);
    const card = entry?.versions.get(version)?.card;
    if (!card) return;
    let key: string;
    try { key = reportKey(model, version, testbedName(entry?.card?.benchmark)); } catch { return; }
    let bytes: Buffer;
    try {
      bytes = await store.getBytes(key);
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
    try {
      const r = parseReport(bytes, key);
      // Evidence counts only for exactly these bytes.
      if (r.model === model && r.version === version && r.artifactDigest === artifactDigest(card)) out.set(`${model}@${version}`, summarizeReport(r, key));
    } catch {
      // An unreadable report is not evidence; the benchmark gate reports it where it matters.
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// publishRegistry

export interface PublishRegistryOptions {
  /** The git repository holding models/ and environments/. */
  repo: string;
  store: BlobStore;
  keys: PublishKeys;
  /** What is published: `commit` is read from git (GitSource) unless `registry` is given. */
  source: { repository: string; commit: string };
  now?: Date;
  /** Seconds until the manifest, targets and snapshot expire. Default 7 days. */
  expiresIn?: number;
  /** Summaries by `model@version`; default: read from the store's reports/. */
  benchmarks?: Map<string, BenchmarkSummary>;
  /** Read the registry from here instead of git at `source.commit` (tests, benchmarks). */
  registry?: RegistrySource;
  /** Bound on claim/publication retries when other publishers race (default 20). */
  maxAttempts?: number;
  /**
   * Skip TUF versions a crashed publish claimed but never referenced. Only when no other publisher can
   * run at the same time (the publish workflow's fixed concurrency group guarantees it).
   */
  recoverOrphans?: boolean;
  onEvent?: (e: PublishEvent) => void;
}

export type PublishEvent =
  | { type: 'validated'; models: number; versions: number; environments: number }
  | { type: 'verified'; blobs: number; indexed: number }
  | { type: 'claimed'; sequence: number }
  | { type: 'claim-lost'; sequence: number }
  | { type: 'retry'; attempt: number; reason: string };

export interface PublishResult {
  status: 'published' | 'unchanged' | 'superseded';
  /** The sequence this call published; for unchanged/superseded, the sequence that is current. */
  sequence: number;
  /** A sequence this call claimed but did not sign (superseded), if any. */
  claimedSequence?: number;
  sha256: string;
  length: number;
  publishedAt: string;
  expiresAt: string;
  source: { repository: string; commit: string };
  environments: string[];
  /** vs the manifest that was current before (what devices will see change). */
  changes: EnvironmentChanges[];
  attempts: number;
  blobs: number;
  trust?: { targetsVersion: number; snapshotVersion: number; timestampVersion: number };
  message: string;
}

export async function publishRegistry(o: PublishRegistryOptions): Promise<PublishResult> {
  const { store } = o;
  const io = new BlobTrustStore(store);
  const now = o.now ?? new Date();
  const expiresIn = o.expiresIn ?? DEFAULT_EXPIRES_IN;
  const expiries: Expiries = { ...DEFAULT_EXPIRIES, targets: expiresIn, snapshot: expiresIn, timestamp: Math.min(2 * DAY, expiresIn) };
  const emit = o.onEvent ?? (() => {});
  const source = { repository: o.source.repository, commit: o.source.commit };

  // 1. validate
  const registrySource = o.registry ?? new GitSource(o.repo, source.commit, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  if (!o.registry) source.commit = (registrySource as GitSource).commit;
  const v = validateRegistry(registrySource, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  if (v.errors > 0) throw new RegistryInvalidError(v.diagnostics, registrySource.label);
  if (v.registry.environments.size === 0) throw new UserError(`the registry at ${registrySource.label} has no environments: nothing to publish`, { exitCode: 1 });
  emit({ type: 'validated', models: v.counts.models, versions: v.counts.versions, environments: v.counts.environments });

  // 2. every referenced blob, verified (HEAD: size + sha256 metadata)
  const header = (sequence: number) => ({ sequence, publishedAt: now, expiresAt: new Date(now.getTime() + expiresIn * 1000), source });
  const draft = buildManifest(v.registry, header(0));
  const uses = new Map<string, { artifact: Artifact; usedBy: string[] }>();
  const referenced: { model: string; version: string }[] = [];
  for (const [model, mv] of Object.entries(draft.models)) {
    for (const [version, entry] of Object.entries(mv.versions)) {
      referenced.push({ model, version });
      for (const f of entry.files) {
        const u = uses.get(f.sha256) ?? { artifact: { path: f.path, sha256: f.sha256, size: f.size }, usedBy: [] };
        u.usedBy.push(`${model}@${version}/${f.path}`);
        uses.set(f.sha256, u);
      }
    }
  }
  const all = [...uses.values()];
  const checks = (await mapPool(chunk(all, 64), 8, (c) => verifyArtifacts(store, c.map((u) => u.artifact)))).flat();
  const missing: MissingBlob[] = checks.filter((c) => c.status !== 'ok').map((c) => ({
    sha256: c.sha256, size: c.size, blobKey: c.blobKey, status: c.status, ...(c.detail ? { detail: c.detail } : {}), usedBy: uses.get(c.sha256)!.usedBy,
  }));
  if (missing.length) throw new MissingBlobsError(store.url, missing);
  // Per-tensor indexes: flagged in the manifest only when the store really has one (else devices download whole files).
  const safetensors = all.filter((u) => u.artifact.path.toLowerCase().endsWith('.safetensors')).map((u) => u.artifact.sha256);
  const indexed = new Set((await mapPool(safetensors, 16, async (s) => ((await store.exists(indexKey(s))) ? s : undefined))).filter((s): s is string => s !== undefined));
  emit({ type: 'verified', blobs: all.length, indexed: indexed.size });
  const benchmarks = o.benchmarks ?? (await loadBenchmarkSummaries(store, v.registry, referenced));
  const build = (sequence: number): Manifest => buildManifest(v.registry, header(sequence), { benchmarks, hasIndex: (f) => indexed.has(f.sha256) });
  crashPoint('after-verify');

  const result = (status: PublishResult['status'], m: Manifest, bytes: Buffer, changes: EnvironmentChanges[], attempts: number, message: string, extra: Partial<PublishResult> = {}): PublishResult => ({
    status, sequence: m.sequence, sha256: sha256(bytes), length: bytes.length, publishedAt: m.publishedAt, expiresAt: m.expiresAt, source: m.source,
    environments: Object.keys(m.environments), changes, attempts, blobs: all.length, message, ...extra,
  });

  let cur = await readCurrentPublication(store);
  const content = contentOf(build(0));
  if (cur.manifest && contentOf(cur.manifest) === content) {
    return result('unchanged', cur.manifest, cur.bytes!, manifestChanges(cur.manifest, cur.manifest), 0,
      `unchanged: sequence ${cur.manifest.sequence} (commit ${cur.manifest.source.commit.slice(0, 12)}) already has this content; nothing published`);
  }

  // 3 + 4. claim a sequence, then publish it unless something newer got there first
  const maxAttempts = o.maxAttempts ?? 20;
  let claim: { manifest: Manifest; bytes: Buffer } | undefined;
  let lastConflict: ConcurrentPublishError | undefined;
  for (let attempt = 1; ; attempt++) {
    if (attempt > maxAttempts) {
      const hint = lastConflict
        ? ` Last conflict: ${lastConflict.message}. If no other publish is running, a crashed one left a TUF version claimed but never referenced: re-run with --recover (only safe when this is the only publisher).`
        : '';
      throw new UserError(`gave up after ${maxAttempts} attempts: other publishers kept getting there first.${hint}`, { exitCode: 75 });
    }
    if (!claim) {
      const sequence = Math.max(0, cur.manifest?.sequence ?? 0, ...(await listManifestSequences(store))) + 1;
      const m = build(sequence);
      const bytes = serialiseManifest(m);
      try {
        await store.putObject(manifestSequenceKey(sequence), bytes, { exclusive: true, contentType: 'application/json' });
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
        emit({ type: 'claim-lost', sequence });
        continue; // someone claimed it between our listing and our create: re-list, take the next
      }
      claim = { manifest: m, bytes };
      emit({ type: 'claimed', sequence });
      crashPoint('after-claim');
    }
    cur = await readCurrentPublication(store);
    if (cur.manifest) {
      const theirs = cur.manifest.source.commit;
      if (theirs !== source.commit && commitIncludes(o.repo, theirs, source.commit)) {
        return result('superseded', cur.manifest, cur.bytes!, [], attempt,
          `superseded: sequence ${cur.manifest.sequence} (commit ${theirs.slice(0, 12)}) already includes commit ${source.commit.slice(0, 12)}; ` +
            `claimed sequence ${claim.manifest.sequence} stays unsigned`, { claimedSequence: claim.manifest.sequence });
      }
      if (contentOf(cur.manifest) === content) {
        return result('unchanged', cur.manifest, cur.bytes!, [], attempt,
          `unchanged: sequence ${cur.manifest.sequence} was published meanwhile with this content; claimed sequence ${claim.manifest.sequence} stays unsigned`,
          { claimedSequence: claim.manifest.sequence });
      }
      if (cur.manifest.sequence >= claim.manifest.sequence) {
        // A newer sequence was signed after our claim and does not include our commit: take a new sequence above it.
        emit({ type: 'retry', attempt, reason: `sequence ${cur.manifest.sequence} was published after we claimed ${claim.manifest.sequence}` });
        claim = undefined;
        continue;
      }
    }
    const slices: Record<string, Buffer> = {};
    for (const env of Object.keys(claim.manifest.environments)) slices[environmentTarget(env)] = serialiseManifest(environmentSlice(claim.manifest, env));
    try {
      const pub = await publishManifest({
        io, manifestBytes: claim.bytes, extraTargets: slices, keys: o.keys, now, expiries,
        expectSnapshotVersion: cur.snapshotVersion, skipOrphanedVersions: o.recoverOrphans ?? false, onStep: crashPoint,
      });
      crashPoint('after-timestamp');
      await writeConvenienceCopy(store, claim.bytes);
      crashPoint('after-convenience-copy');
      const changes = manifestChanges(cur.manifest, claim.manifest);
      return result('published', claim.manifest, claim.bytes, changes, attempt,
        `published sequence ${claim.manifest.sequence} (commit ${source.commit.slice(0, 12)})`,
        { trust: { targetsVersion: pub.targetsVersion, snapshotVersion: pub.snapshotVersion, timestampVersion: pub.timestampVersion } });
    } catch (e) {
      if (!(e instanceof ConcurrentPublishError)) throw e;
      lastConflict = e;
      emit({ type: 'retry', attempt, reason: e.message });
      await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
    }
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * manifest.json at the store root, after the signed pointer moved. Re-read the signed pointer after
 * writing: if another publisher moved it meanwhile, write what it points at instead, so the copy
 * converges on the newest signed manifest whatever the interleaving.
 */
async function writeConvenienceCopy(store: BlobStore, bytes: Buffer): Promise<void> {
  let want = bytes;
  for (let i = 0; i < 5; i++) {
    await store.putObject(CONVENIENCE_MANIFEST_KEY, want, { contentType: 'application/json' });
    const cur = await readCurrentPublication(store);
    if (!cur.bytes || cur.bytes.equals(want)) return;
    want = cur.bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// resign

export interface ResignStoreOptions {
  store: BlobStore;
  keys: PublishKeys;
  now?: Date;
  expiresIn?: number;
  recoverOrphans?: boolean;
  maxAttempts?: number;
}

/** Re-sign timestamp and snapshot (and targets when it is within half its lifetime); the manifest bytes do not change. */
export async function resignStore(o: ResignStoreOptions) {
  const expiresIn = o.expiresIn ?? DEFAULT_EXPIRES_IN;
  const expiries: Expiries = { ...DEFAULT_EXPIRIES, targets: expiresIn, snapshot: expiresIn, timestamp: Math.min(2 * DAY, expiresIn) };
  const io = new BlobTrustStore(o.store);
  const maxAttempts = o.maxAttempts ?? 20;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await resign({ io, keys: o.keys, ...(o.now ? { now: o.now } : {}), expiries, skipOrphanedVersions: o.recoverOrphans ?? false });
      const cur = await readCurrentPublication(o.store);
      return { ...r, sequence: cur.manifest?.sequence ?? null, sha256: cur.sha256 ?? null, attempts: attempt };
    } catch (e) {
      if (!(e instanceof ConcurrentPublishError) || attempt >= maxAttempts) {
        if (e instanceof ConcurrentPublishError) {
          throw new UserError(`${e.message}. Gave up after ${maxAttempts} attempts; if no other publish is running, re-run with --recover`, { exitCode: 75 });
        }
        throw e;
      }
      await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// history

export interface HistoryEntry {
  sequence: number;
  publishedAt: string | null;
  source: { repository: string; commit: string } | null;
  sha256: string;
  /** Some targets version ever vouched for these bytes (devices could have received it). */
  signed: boolean;
  /** What timestamp.json points at now. */
  current: boolean;
  /** vs the previous signed publication. */
  changes: EnvironmentChanges[];
  problem?: string;
}

export async function publicationHistory(store: BlobStore): Promise<HistoryEntry[]> {
  const io = new BlobTrustStore(store);
  const signed = new Set<string>();
  const targetsKeys: string[] = [];
  for await (const o of store.list('metadata/')) if (/^metadata\/\d+\.targets\.json$/.test(o.key)) targetsKeys.push(o.key);
  await mapPool(targetsKeys, 16, async (k) => {
    const b = await io.get(k);
    try {
      const t = JSON.parse(b?.toString('utf8') ?? 'null') as { signed?: { targets?: Record<string, { hashes?: { sha256?: string } }> } } | null;
      const d = t?.signed?.targets?.[MANIFEST_TARGET]?.hashes?.sha256;
      if (d) signed.add(d);
    } catch { /* unreadable: not counted */ }
  });
  const cur = await readCurrentPublication(store).catch(() => undefined);
  const seqs = await listManifestSequences(store);
  const entries = await mapPool(seqs, 16, async (sequence) => {
    const bytes = await store.getBytes(manifestSequenceKey(sequence));
    const digest = sha256(bytes);
    try {
      return { sequence, manifest: JSON.parse(bytes.toString('utf8')) as Manifest, sha256: digest };
    } catch (e) {
      return { sequence, manifest: undefined, sha256: digest, problem: `not JSON: ${(e as Error).message}` };
    }
  });
  let prevSigned: Manifest | undefined;
  const out: HistoryEntry[] = [];
  for (const e of entries) {
    const isSigned = signed.has(e.sha256);
    out.push({
      sequence: e.sequence,
      publishedAt: e.manifest?.publishedAt ?? null,
      source: e.manifest?.source ?? null,
      sha256: e.sha256,
      signed: isSigned,
      current: cur?.sha256 === e.sha256,
      changes: e.manifest ? manifestChanges(prevSigned, e.manifest).filter((c) => c.status !== 'unchanged') : [],
      ...('problem' in e && e.problem ? { problem: e.problem } : {}),
    });
    if (isSigned && e.manifest) prevSigned = e.manifest;
  }
  return out;
}

