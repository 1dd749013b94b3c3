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
import { backoff } from '../lib/backoff.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { UserError } from '../lib/errors.ts';
import { gitSucceeds } from '../lib/git.ts';
import { sha256Hex } from '../lib/hash.ts';
import {
  type BenchmarkSummary,
  type Manifest,
  buildManifest,
  environmentSlice,
  serialiseManifest,
} from '../manifest/manifest.ts';
import { GitSource } from '../registry/git-source.ts';
import type { RegistrySource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { MANIFEST_KEY, manifestSequenceKey } from '../store/keys.ts';
import { AlreadyExistsError, type BlobStore } from '../store/types.ts';
import { ConcurrentPublishError, type PublishKeys, environmentTarget, publishManifest } from '../trust/repository.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { crashPoint } from './crash-points.ts';
import { PUBLISH_DEFAULTS, publishExpiries } from './defaults.ts';
import { type EnvironmentChanges, manifestChanges } from './diff.ts';
import { RegistryInvalidError } from './errors.ts';
import {
  checkReferencedBlobs,
  listManifestSequences,
  loadBenchmarkSummaries,
  readCurrentPublication,
} from './store-reads.ts';

/** The unsigned convenience copy at the store root (for readers that do not verify TUF). */
export const CONVENIENCE_MANIFEST_KEY = MANIFEST_KEY;

/** Whether `ancestor` is `descendant` or one of its ancestors in `repo` (false when unknown to git). */
export function commitIncludes(repo: string, descendant: string, ancestor: string): boolean {
  if (descendant === ancestor) return true;
  if (!/^[0-9a-f]{7,64}$/i.test(descendant) || !/^[0-9a-f]{7,64}$/i.test(ancestor)) return false;
  return gitSucceeds(repo, ['merge-base', '--is-ancestor', ancestor, descendant]);
}

/** The manifest without its header: what devices act on. Equal content = nothing to publish. */
function contentOf(m: Manifest): string {
  const { sequence: _s, publishedAt: _p, expiresAt: _e, source: _src, ...rest } = m;
  return canonicalJson(rest);
}

export interface PublishRegistryOptions {
  /** The git repository holding models/ and environments/. */
  repo: string;
  store: BlobStore;
  keys: PublishKeys;
  /** What is published: `commit` is read from git (GitSource) unless `registry` is given. */
  source: { repository: string; commit: string };
  now?: Date;
  /** Seconds until the manifest, targets and snapshot expire. Default PUBLISH_DEFAULTS.expiresIn (7 days). */
  expiresIn?: number;
  /** Summaries by `model@version`; default: read from the store's reports/. */
  benchmarks?: Map<string, BenchmarkSummary>;
  /** Read the registry from here instead of git at `source.commit` (tests, benchmarks). */
  registry?: RegistrySource;
  /** Bound on claim/publication retries when other publishers race (default PUBLISH_DEFAULTS.maxAttempts, 20). */
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
  const expiresIn = o.expiresIn ?? PUBLISH_DEFAULTS.expiresIn;
  const expiries = publishExpiries(expiresIn);
  const emit = o.onEvent ?? (() => {});
  const source = { repository: o.source.repository, commit: o.source.commit };

  // 1. validate
  const registrySource = o.registry ?? new GitSource(o.repo, source.commit, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  if (!o.registry) source.commit = (registrySource as GitSource).commit;
  const v = validateRegistry(registrySource, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  if (v.errors > 0) throw new RegistryInvalidError(v.diagnostics, registrySource.label);
  if (v.registry.environments.size === 0)
    throw new UserError(`the registry at ${registrySource.label} has no environments: nothing to publish`, {
      exitCode: EXIT.violations,
    });
  emit({
    type: 'validated',
    models: v.counts.models,
    versions: v.counts.versions,
    environments: v.counts.environments,
  });

  // 2. every referenced blob, verified (HEAD: size + sha256 metadata)
  const header = (sequence: number) => ({
    sequence,
    publishedAt: now,
    expiresAt: new Date(now.getTime() + expiresIn * 1000),
    source,
  });
  const draft = buildManifest(v.registry, header(0));
  const { blobs, indexed } = await checkReferencedBlobs(store, draft);
  emit({ type: 'verified', blobs, indexed: indexed.size });
  const referenced = Object.entries(draft.models).flatMap(([model, mv]) =>
    Object.keys(mv.versions).map((version) => ({ model, version })),
  );
  const benchmarks = o.benchmarks ?? (await loadBenchmarkSummaries(store, v.registry, referenced));
  const build = (sequence: number): Manifest =>
    buildManifest(v.registry, header(sequence), { benchmarks, hasIndex: (f) => indexed.has(f.sha256) });
  crashPoint('after-verify');

  const result = (
    status: PublishResult['status'],
    m: Manifest,
    bytes: Buffer,
    changes: EnvironmentChanges[],
    attempts: number,
    message: string,
    extra: Partial<PublishResult> = {},
  ): PublishResult => ({
    status,
    sequence: m.sequence,
    sha256: sha256Hex(bytes),
    length: bytes.length,
    publishedAt: m.publishedAt,
    expiresAt: m.expiresAt,
    source: m.source,
    environments: Object.keys(m.environments),
    changes,
    attempts,
    blobs,
    message,
    ...extra,
  });

  let cur = await readCurrentPublication(store);
  const content = contentOf(build(0));
  if (cur.manifest && contentOf(cur.manifest) === content) {
    return result(
      'unchanged',
      cur.manifest,
      cur.bytes!,
      manifestChanges(cur.manifest, cur.manifest),
      0,
      `unchanged: sequence ${cur.manifest.sequence} (commit ${cur.manifest.source.commit.slice(0, 12)}) already has this content; nothing published`,
    );
  }

  // 3 + 4. claim a sequence, then publish it unless something newer got there first
  const maxAttempts = o.maxAttempts ?? PUBLISH_DEFAULTS.maxAttempts;
  let claim: { manifest: Manifest; bytes: Buffer } | undefined;
  let lastConflict: ConcurrentPublishError | undefined;
  for (let attempt = 1; ; attempt++) {
    if (attempt > maxAttempts) {
      const hint = lastConflict
        ? ` Last conflict: ${lastConflict.message}. If no other publish is running, a crashed one left a TUF version claimed but never referenced: re-run with --recover (only safe when this is the only publisher).`
        : '';
      throw new UserError(`gave up after ${maxAttempts} attempts: other publishers kept getting there first.${hint}`, {
        exitCode: EXIT.retryLater,
      });
    }
    if (!claim) {
      const sequence = Math.max(0, cur.manifest?.sequence ?? 0, ...(await listManifestSequences(store))) + 1;
      const m = build(sequence);
      const bytes = serialiseManifest(m);
      try {
        await store.putObject(manifestSequenceKey(sequence), bytes, {
          exclusive: true,
          contentType: 'application/json',
        });
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
        return result(
          'superseded',
          cur.manifest,
          cur.bytes!,
          [],
          attempt,
          `superseded: sequence ${cur.manifest.sequence} (commit ${theirs.slice(0, 12)}) already includes commit ${source.commit.slice(0, 12)}; ` +
            `claimed sequence ${claim.manifest.sequence} stays unsigned`,
          { claimedSequence: claim.manifest.sequence },
        );
      }
      if (contentOf(cur.manifest) === content) {
        return result(
          'unchanged',
          cur.manifest,
          cur.bytes!,
          [],
          attempt,
          `unchanged: sequence ${cur.manifest.sequence} was published meanwhile with this content; claimed sequence ${claim.manifest.sequence} stays unsigned`,
          { claimedSequence: claim.manifest.sequence },
        );
      }
      if (cur.manifest.sequence >= claim.manifest.sequence) {
        // A newer sequence was signed after our claim and does not include our commit: take a new sequence above it.
        emit({
          type: 'retry',
          attempt,
          reason: `sequence ${cur.manifest.sequence} was published after we claimed ${claim.manifest.sequence}`,
        });
        claim = undefined;
        continue;
      }
    }
    const slices: Record<string, Buffer> = {};
    for (const env of Object.keys(claim.manifest.environments))
      slices[environmentTarget(env)] = serialiseManifest(environmentSlice(claim.manifest, env));
    try {
      const pub = await publishManifest({
        io,
        manifestBytes: claim.bytes,
        extraTargets: slices,
        keys: o.keys,
        now,
        expiries,
        expectSnapshotVersion: cur.snapshotVersion,
        skipOrphanedVersions: o.recoverOrphans ?? false,
        onStep: crashPoint,
      });
      crashPoint('after-timestamp');
      await writeConvenienceCopy(store, claim.bytes);
      crashPoint('after-convenience-copy');
      const changes = manifestChanges(cur.manifest, claim.manifest);
      return result(
        'published',
        claim.manifest,
        claim.bytes,
        changes,
        attempt,
        `published sequence ${claim.manifest.sequence} (commit ${source.commit.slice(0, 12)})`,
        {
          trust: {
            targetsVersion: pub.targetsVersion,
            snapshotVersion: pub.snapshotVersion,
            timestampVersion: pub.timestampVersion,
          },
        },
      );
    } catch (e) {
      if (!(e instanceof ConcurrentPublishError)) throw e;
      lastConflict = e;
      emit({ type: 'retry', attempt, reason: e.message });
      await backoff(attempt, PUBLISH_DEFAULTS.retryBackoff);
    }
  }
}

/**
 * manifest.json at the store root, after the signed pointer moved. Re-read the signed pointer after
 * writing: if another publisher moved it meanwhile, write what it points at instead, so the copy
 * converges on the newest signed manifest whatever the interleaving.
 */
async function writeConvenienceCopy(store: BlobStore, bytes: Buffer): Promise<void> {
  let want = bytes;
  for (let i = 0; i < PUBLISH_DEFAULTS.convenienceCopyRounds; i++) {
    await store.putObject(CONVENIENCE_MANIFEST_KEY, want, { contentType: 'application/json' });
    const cur = await readCurrentPublication(store);
    if (!cur.bytes || cur.bytes.equals(want)) return;
    want = cur.bytes;
  }
}
