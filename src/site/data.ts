// Everything the site shows, collected once: the registry at a commit (read from git objects, so the
// site shows what is on main, not an uncommitted edit), the git history of environments/ and models/,
// and with a store the benchmark reports, the publication history and whether the artifacts of
// user-facing versions are there.
import semver from 'semver';
import { sha256Hex } from '../lib/hash.ts';
import { isGitRepo, runGit } from '../lib/git.ts';
import { type Placement, placements } from '../registry/placements.ts';
import { UserError } from '../lib/errors.ts';
import { mapPool } from '../lib/pool.ts';
import { GitSource } from '../registry/git-source.ts';
import type { Registry } from '../registry/load.ts';
import { finalStages } from '../registry/stages.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { artifactDigest } from '../registry/artifact-digest.ts';
import type { Deployment, Environment } from '../registry/types.ts';
import { type BenchmarkReport, parseReport } from '../benchmark/report.ts';
import { type HistoryEntry, publicationHistory } from '../publish/history.ts';
import { blobKey } from '../store/keys.ts';
import type { BlobStore } from '../store/types.ts';
import { loadRegistryFast } from './parallel-load.ts';
import { type GitHistory, type PromotionEvent, readGitHistory } from './git-history.ts';

export interface StoredReport {
  key: string;
  /** sha256 of the report's bytes: the evidence digest a reviewer can recompute. */
  sha256: string;
  report: BenchmarkReport;
}

export interface ArtifactPresence {
  sha256: string;
  /** 'ok' | 'missing' | 'size' (present with another size) | 'error'. */
  status: 'ok' | 'missing' | 'size' | 'error';
  detail?: string;
}

export type { Placement } from '../registry/placements.ts';

export interface SiteData {
  registry: Registry;
  /** Load problems (files left out); the site says how many and points at `validate`. */
  problems: { file: string; message: string }[];
  commit: string;
  history: GitHistory;
  /** Environments in promotion order (dev, staging, production…). */
  environments: Environment[];
  finals: Set<string>;
  /** model -> version -> where it runs. */
  placements: Map<string, Map<string, Placement[]>>;
  /** model -> versions, newest first (semver). */
  versionOrder: Map<string, string[]>;
  /** model -> events of the promotion timeline (oldest first). */
  eventsByModel: Map<string, PromotionEvent[]>;
  eventsByEnvironment: Map<string, PromotionEvent[]>;
  /** base model -> versions of other models whose `base` names it (adapters, merges, quantized builds). */
  derived: Map<string, { model: string; version: string }[]>;
  /** Web address of the registry repository (commit, pull request and file links), when known. */
  repoUrl?: string;
  store?: {
    url: string;
    /** model@version -> reports (any testbed). */
    reports: Map<string, StoredReport[]>;
    reportProblems: { key: string; message: string }[];
    publications: HistoryEntry[];
    /** sha256 -> presence, for the artifacts of versions in final stages. */
    artifacts: Map<string, ArtifactPresence>;
  };
}

export interface CollectOptions {
  repo: string;
  ref?: string;
  store?: BlobStore;
  /** Web address for links, e.g. https://github.com/acme/registry; else GITHUB_SERVER_URL/GITHUB_REPOSITORY or origin. */
  repoUrl?: string;
  env?: NodeJS.ProcessEnv;
}

/** https://github.com/owner/name from the environment or the origin remote (an https or scp-style URL). */
export function repositoryUrl(repo: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_REPOSITORY)
    return `${(env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/$/, '')}/${env.GITHUB_REPOSITORY}`;
  const r = runGit(repo, ['remote', 'get-url', 'origin']);
  if (r.status !== 0) return undefined;
  const u = r.stdout.toString().trim();
  const https = /^https:\/\/([^/@]+@)?([^/]+)\/([^/]+\/[^/]+?)(?:\.git)?\/?$/.exec(u);
  if (https) return `https://${https[2]}/${https[3]}`;
  const scp = /^[^@\s]+@([^:]+):([^/]+\/[^/]+?)(?:\.git)?$/.exec(u);
  return scp ? `https://${scp[1]}/${scp[2]}` : undefined;
}

function depth(envs: Map<string, Environment>, name: string): number {
  let n = 0;
  let at = envs.get(name);
  const seen = new Set<string>();
  while (at?.requires !== undefined && !seen.has(at.name)) {
    seen.add(at.name);
    n++;
    at = envs.get(at.requires);
  }
  return n;
}

const group = <T>(items: T[], key: (t: T) => string): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = out.get(k);
    if (list) list.push(i);
    else out.set(k, [i]);
  }
  return out;
};

async function readReports(store: BlobStore): Promise<{
  reports: Map<string, StoredReport[]>;
  problems: { key: string; message: string }[];
}> {
  const keys: string[] = [];
  for await (const o of store.list('reports/')) if (o.key.endsWith('.json')) keys.push(o.key);
  const problems: { key: string; message: string }[] = [];
  const read = await mapPool(keys, 16, async (key) => {
    try {
      const bytes = await store.getBytes(key);
      return { key, sha256: sha256Hex(bytes), report: parseReport(bytes, key) };
    } catch (e) {
      problems.push({ key, message: (e as Error).message });
      return undefined;
    }
  });
  const ok = read.filter((r): r is StoredReport => r !== undefined);
  return { reports: group(ok, (r) => `${r.report.model}@${r.report.version}`), problems };
}

export async function collectSiteData(options: CollectOptions): Promise<SiteData> {
  const { repo } = options;
  if (!isGitRepo(repo))
    throw new UserError(
      `${repo} is not a git repository: the site is built from the registry at a commit and its history (run it in your registry's clone, or pass --repo)`,
    );
  const source = new GitSource(repo, options.ref ?? 'HEAD', { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  // The cards parse on worker threads while this thread reads the git history (its git calls block
  // this thread only), so the two overlap instead of adding up.
  const loading = loadRegistryFast(source);
  let history: ReturnType<typeof readGitHistory>;
  try {
    history = readGitHistory(repo, source.commit);
  } catch (e) {
    await loading.catch(() => undefined); // no worker left running behind a thrown error
    throw e;
  }
  const { registry, diagnostics } = await loading;
  const problems = diagnostics.filter((d) => d.severity === 'error').map((d) => ({ file: d.file, message: d.message }));

  const environments = [...registry.environments.values()].sort(
    (a, b) =>
      depth(registry.environments, a.name) - depth(registry.environments, b.name) || a.name.localeCompare(b.name),
  );
  const finals = new Set(finalStages(registry.environments));
  const versionOrder = new Map(
    [...registry.models.values()].map((m) => [m.name, [...m.versions.keys()].sort(semver.rcompare)]),
  );
  const repoUrl = options.repoUrl ?? repositoryUrl(repo, options.env);
  const data: SiteData = {
    registry,
    problems,
    commit: source.commit,
    history,
    environments,
    finals,
    placements: placements(registry),
    versionOrder,
    eventsByModel: group(history.events, (e) => e.model),
    eventsByEnvironment: group(history.events, (e) => e.environment),
    derived: group(
      [...registry.models.values()].flatMap((m) =>
        [...m.versions].flatMap(([version, { card }]) =>
          card.base && card.base.model !== m.name ? [{ base: card.base.model, model: m.name, version }] : [],
        ),
      ),
      (d) => d.base,
    ),
    ...(repoUrl ? { repoUrl } : {}),
  };
  if (options.store) {
    const store = options.store;
    const [reports, publications] = await Promise.all([
      readReports(store),
      publicationHistory(store).catch((e: unknown) => {
        if ((e as Error).name === 'NotFoundError') return [] as HistoryEntry[];
        throw e;
      }),
    ]);
    data.store = {
      url: store.url,
      reports: reports.reports,
      reportProblems: reports.problems,
      publications,
      artifacts: await artifactPresence(store, data),
    };
  }
  return data;
}

/** Whether the store holds the artifacts of every version a final stage runs (champion, canary, rollback). */
async function artifactPresence(store: BlobStore, data: SiteData): Promise<Map<string, ArtifactPresence>> {
  const wanted = new Map<string, number>();
  for (const env of data.environments) {
    if (!data.finals.has(env.name)) continue;
    for (const [model, d] of env.deployments)
      for (const v of deployedVersions(d)) {
        const card = data.registry.models.get(model)?.versions.get(v)?.card;
        for (const a of card?.artifacts ?? []) wanted.set(a.sha256, a.size);
      }
  }
  const out = new Map<string, ArtifactPresence>();
  await mapPool([...wanted], 16, async ([sha256, size]) => {
    try {
      const info = await store.head(blobKey(sha256));
      if (!info) out.set(sha256, { sha256, status: 'missing' });
      else if (info.size !== size)
        out.set(sha256, { sha256, status: 'size', detail: `store has ${info.size} bytes, the card says ${size}` });
      else out.set(sha256, { sha256, status: 'ok' });
    } catch (e) {
      out.set(sha256, { sha256, status: 'error', detail: (e as Error).message });
    }
  });
  return out;
}

export const deployedVersions = (d: Deployment): string[] => [
  d.version,
  ...(d.canary ? [d.canary.version] : []),
  ...d.rollbackWindow,
];

/** The reports for a version whose artifact digest is this version's bytes (others are about other bytes). */
export function reportsFor(
  data: SiteData,
  model: string,
  version: string,
): { matching: StoredReport[]; other: StoredReport[] } {
  const all = data.store?.reports.get(`${model}@${version}`) ?? [];
  const card = data.registry.models.get(model)?.versions.get(version)?.card;
  const digest = card ? artifactDigest(card) : '';
  return {
    matching: all.filter((r) => r.report.artifactDigest === digest),
    other: all.filter((r) => r.report.artifactDigest !== digest),
  };
}
