// `audit`: what ran where at a moment, who changed it, who approved it, and on which evidence.
// The registry side comes from git: the last commit of the ref at or before the moment, and one
// `git blame` per environment file, which names the commit that last changed each model's lines
// (fast on long histories: one process per environment, not one per model). The published side comes
// from the store's manifest sequence: the newest signed manifest published at or before the moment
// (binary search over manifests/<n>.json by publishedAt), with the benchmark report that let each
// version in and the sha256 of that report. Pull request numbers and approvers come from the GitHub
// REST API when a token is given (read through GITHUB_API_URL; a local stand-in in tests).
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { runGit } from '../lib/git.ts';
import { sha256Hex } from '../lib/hash.ts';
import { mapPool } from '../lib/pool.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { listManifestSequences } from '../publish/store-reads.ts';
import { manifestSequenceKey } from '../store/keys.ts';
import type { BlobStore } from '../store/types.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { MANIFEST_TARGET } from '../trust/repository.ts';

export interface AuditOptions {
  repo: string;
  ref?: string;
  at?: Date;
  environment?: string;
  model?: string;
  store?: BlobStore;
  github?: GitHubAccess;
}

export interface GitHubAccess {
  /** https://api.github.com, or GITHUB_API_URL. */
  apiUrl: string;
  /** owner/name */
  repository: string;
  token: string;
}

export interface ChangeRecord {
  commit: string;
  author: string;
  email: string;
  /** When the commit landed (committer date), ISO 8601. */
  date: string;
  subject: string;
  /** From the GitHub API (or, without a token, the number a merge/squash subject names). */
  pullRequest?: { number: number; url?: string; approvers?: string[]; mergedBy?: string };
}

export interface Evidence {
  testbed: string;
  verdict: string;
  report: string;
  /** sha256 of the report object in the store (null when it is no longer there). */
  reportSha256: string | null;
}

export interface AuditDeployment {
  model: string;
  version: string;
  canary?: { version: string; weight: string | number };
  rollbackWindow?: string[];
  changed: ChangeRecord | null;
  /** What the manifest in effect at that moment said, when it differs from git (not yet published, or a rollback). */
  published?: { version: string; canary?: { version: string; weight: number } } | null;
  evidence: Evidence | null;
}

export interface AuditResult {
  at: string;
  ref: { name: string; commit: string; date: string } | null;
  manifest: { sequence: number; publishedAt: string; commit: string; sha256: string } | null;
  environments: { environment: string; file: string; models: AuditDeployment[] }[];
  notes: string[];
}

const git = (repo: string, args: string[]): string => {
  const r = runGit(repo, args);
  if (r.status !== 0) throw new UserError(`git ${args.join(' ')} failed in ${repo}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
};

/** The last commit of `ref` that landed at or before `at` (first-parent: what main was). */
function commitAt(repo: string, ref: string, at: Date): { commit: string; date: string } | null {
  if (ref.startsWith('-')) throw new UserError(`"${ref}" is not a git ref`);
  if (runGit(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).status !== 0)
    throw new UserError(`"${ref}" is not a commit in ${repo}; pass --ref with the branch that is published`);
  const out = git(repo, [
    'rev-list',
    '-1',
    '--first-parent',
    `--before=${Math.floor(at.getTime() / 1000)}`,
    '--format=%H %cI',
    ref,
  ])
    .split('\n')
    .filter((l) => l && !l.startsWith('commit '));
  if (!out[0]) return null;
  const [commit, date] = out[0].split(' ');
  return { commit: commit!, date: date! };
}

interface BlameLine {
  commit: string;
}

/** `git blame --porcelain`: the commit of every line of `file` at `commit`, plus each commit's details. */
function blame(repo: string, commit: string, file: string): { lines: BlameLine[]; commits: Map<string, ChangeRecord> } {
  const out = git(repo, ['blame', '--porcelain', commit, '--', file]);
  const lines: BlameLine[] = [];
  const commits = new Map<string, ChangeRecord>();
  let cur: string | undefined;
  let rec: Partial<ChangeRecord> & { time?: number; tz?: string } = {};
  for (const l of out.split('\n')) {
    if (l.startsWith('\t')) {
      lines.push({ commit: cur! });
      continue;
    }
    const head = /^([0-9a-f]{40,64}) \d+ (\d+)/.exec(l);
    if (head) {
      cur = head[1]!;
      if (!commits.has(cur)) {
        rec = { commit: cur };
        commits.set(cur, rec as ChangeRecord);
      } else rec = commits.get(cur)!;
      continue;
    }
    const sp = l.indexOf(' ');
    const key = sp < 0 ? l : l.slice(0, sp);
    const value = sp < 0 ? '' : l.slice(sp + 1);
    if (key === 'author') rec.author = value;
    else if (key === 'author-mail') rec.email = value.replace(/^<|>$/g, '');
    else if (key === 'committer-time') rec.date = new Date(Number(value) * 1000).toISOString();
    else if (key === 'summary') {
      rec.subject = value;
      const pr = /^Merge pull request #(\d+)\b/.exec(value) ?? /\(#(\d+)\)\s*$/.exec(value);
      if (pr) rec.pullRequest = { number: Number(pr[1]) };
    }
  }
  return { lines, commits };
}

/** Model -> [first line, last line] (1-based) of its entry under `models:` in an environment file. */
function modelLines(text: string): Map<string, [number, number]> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const out = new Map<string, [number, number]>();
  const models = doc.get('models', true);
  if (!isMap(models)) return out;
  for (const item of models.items) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const start = item.key.range?.[0] ?? 0;
    const valueNode = item.value as { range?: [number, number, number] } | null;
    const end = Math.max(start, (valueNode?.range?.[1] ?? start) - 1);
    out.set(String(item.key.value), [lc.linePos(start).line, lc.linePos(end).line]);
  }
  return out;
}

async function gitHubPull(gh: GitHubAccess, commit: string, cache: Map<string, ChangeRecord['pullRequest'] | null>) {
  if (cache.has(commit)) return cache.get(commit) ?? undefined;
  const base = gh.apiUrl.replace(/\/+$/, '');
  const get = async (path: string): Promise<unknown> => {
    const r = await fetch(`${base}${path}`, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${gh.token}`,
        'x-github-api-version': '2022-11-28',
      },
    });
    if (r.status === 401 || r.status === 403)
      throw new UserError(
        `the GitHub API at ${base} refused the token (HTTP ${r.status}); check GITHUB_TOKEN's access to ${gh.repository}`,
      );
    if (r.status === 404) return undefined;
    if (!r.ok) throw new UserError(`the GitHub API at ${base} answered HTTP ${r.status} for ${path}`);
    return r.json();
  };
  const pulls = (await get(`/repos/${gh.repository}/commits/${commit}/pulls`)) as
    | { number: number; html_url?: string; merged_by?: { login?: string } | null; merged_at?: string | null }[]
    | undefined;
  const pr = Array.isArray(pulls) ? (pulls.find((p) => p.merged_at) ?? pulls[0]) : undefined;
  if (!pr) {
    cache.set(commit, null);
    return undefined;
  }
  const reviews = ((await get(`/repos/${gh.repository}/pulls/${pr.number}/reviews?per_page=100`)) ?? []) as {
    state?: string;
    user?: { login?: string };
  }[];
  // A reviewer's latest review counts: approved then changes requested is not an approval.
  const last = new Map<string, string>();
  for (const r of reviews) if (r.user?.login && r.state && r.state !== 'COMMENTED') last.set(r.user.login, r.state);
  const approvers = [...last]
    .filter(([, s]) => s === 'APPROVED')
    .map(([u]) => u)
    .sort();
  const out = {
    number: pr.number,
    ...(pr.html_url ? { url: pr.html_url } : {}),
    approvers,
    ...(pr.merged_by?.login ? { mergedBy: pr.merged_by.login } : {}),
  };
  cache.set(commit, out);
  return out;
}

/** The newest signed manifest published at or before `at`. */
async function manifestAt(store: BlobStore, at: Date): Promise<{ m: Manifest; sha256: string } | null> {
  const seqs = await listManifestSequences(store);
  const read = async (seq: number) => {
    const bytes = await store.getBytes(manifestSequenceKey(seq));
    return { m: JSON.parse(bytes.toString('utf8')) as Manifest, sha256: sha256Hex(bytes) };
  };
  // publishedAt grows with the sequence: binary search for the last one at or before `at`.
  let lo = 0;
  let hi = seqs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const { m } = await read(seqs[mid]!);
    if (Date.parse(m.publishedAt) <= at.getTime()) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return null;
  // A claimed sequence a crashed publish never signed never reached anyone: step back to a signed one.
  const io = new BlobTrustStore(store);
  const signed = new Set<string>();
  const targets: string[] = [];
  for await (const o of store.list('metadata/')) if (/^metadata\/\d+\.targets\.json$/.test(o.key)) targets.push(o.key);
  await mapPool(targets, 16, async (k) => {
    try {
      const t = JSON.parse((await io.get(k))?.toString('utf8') ?? 'null') as {
        signed?: { targets?: Record<string, { hashes?: { sha256?: string } }> };
      } | null;
      const d = t?.signed?.targets?.[MANIFEST_TARGET]?.hashes?.sha256;
      if (d) signed.add(d);
    } catch {
      /* unreadable metadata signs nothing */
    }
  });
  for (let i = found; i >= 0; i--) {
    const r = await read(seqs[i]!);
    if (signed.has(r.sha256)) return r;
  }
  return null;
}

export async function audit(o: AuditOptions): Promise<AuditResult> {
  const at = o.at ?? new Date();
  if (Number.isNaN(at.getTime()))
    throw new UserError('--at is not a date; write it as ISO 8601, e.g. 2026-11-24T10:00:00Z');
  const ref = o.ref ?? 'main';
  const notes: string[] = [];
  const c = commitAt(o.repo, ref, at);
  const published = o.store ? await manifestAt(o.store, at) : null;
  if (o.store && !published) notes.push(`no signed manifest was published at or before ${at.toISOString()}`);
  if (!o.store) notes.push('no --store: the published side (manifest sequence, benchmark evidence) is not shown');
  const result: AuditResult = {
    at: at.toISOString(),
    ref: c ? { name: ref, commit: c.commit, date: c.date } : null,
    manifest: published
      ? {
          sequence: published.m.sequence,
          publishedAt: published.m.publishedAt,
          commit: published.m.source.commit,
          sha256: published.sha256,
        }
      : null,
    environments: [],
    notes,
  };
  if (!c) {
    notes.push(`${ref} had no commit at or before ${at.toISOString()}`);
    return result;
  }
  const files = git(o.repo, ['ls-tree', '--name-only', c.commit, '--', 'environments/'])
    .split('\n')
    .filter((f) => /^environments\/[a-z][a-z0-9-]*\.yaml$/.test(f));
  const envs = files.map((f) => ({ name: f.slice('environments/'.length, -'.yaml'.length), file: f }));
  const wanted = o.environment ? envs.filter((e) => e.name === o.environment) : envs;
  if (o.environment && wanted.length === 0)
    throw new UserError(
      `no environment "${o.environment}" on ${ref} at ${c.commit.slice(0, 12)} (it has: ${envs.map((e) => e.name).join(', ') || 'none'})`,
    );
  const prCache = new Map<string, ChangeRecord['pullRequest'] | null>();
  for (const env of wanted) {
    const text = git(o.repo, ['show', `${c.commit}:${env.file}`]);
    const doc = parseDocument(text).toJS() as { models?: Record<string, unknown> } | null;
    const spans = modelLines(text);
    const { lines, commits } = blame(o.repo, c.commit, env.file);
    const models: AuditDeployment[] = [];
    for (const [model, raw] of Object.entries(doc?.models ?? {})) {
      if (o.model && model !== o.model) continue;
      const d = (typeof raw === 'string' ? { version: raw } : raw) as {
        version: string;
        canary?: { version: string; weight: string };
        rollbackWindow?: string[];
      };
      const span = spans.get(model);
      // The newest commit among the entry's lines is the change that made it what it is.
      let changed: ChangeRecord | null = null;
      if (span)
        for (let l = span[0]; l <= span[1]; l++) {
          const rec = commits.get(lines[l - 1]?.commit ?? '');
          if (rec && (!changed || rec.date > changed.date)) changed = rec;
        }
      // Blame sees lines, not deletions: a later commit that only removed a line (a dropped canary) is
      // found by walking the file's commits after the blamed one until the entry looks as it does now.
      // (A one-line `model: version` entry has no line to delete: blame alone is exact for it.)
      if (changed && typeof raw === 'object' && raw !== null)
        changed = lastChange(o.repo, env.file, model, raw, changed, c.commit, commits) ?? changed;
      if (changed && o.github) {
        const pr = await gitHubPull(o.github, changed.commit, prCache);
        if (pr) changed = { ...changed, pullRequest: pr };
      }
      const entry: AuditDeployment = {
        model,
        version: String(d.version),
        ...(d.canary ? { canary: d.canary } : {}),
        ...(d.rollbackWindow?.length ? { rollbackWindow: d.rollbackWindow.map(String) } : {}),
        changed: changed ? { ...changed } : null,
        evidence: null,
      };
      if (published) {
        const pd = published.m.environments[env.name]?.models[model];
        const differs =
          !pd || pd.version !== entry.version || (pd.canary?.version ?? null) !== (d.canary?.version ?? null);
        if (differs) entry.published = pd ? { version: pd.version, ...(pd.canary ? { canary: pd.canary } : {}) } : null;
        const bench = published.m.models[model]?.versions[pd?.version ?? entry.version]?.benchmark;
        if (bench && o.store) {
          const bytes = await o.store.getBytes(bench.report).catch(() => undefined);
          entry.evidence = {
            testbed: bench.testbed,
            verdict: bench.verdict,
            report: bench.report,
            reportSha256: bytes ? sha256Hex(bytes) : null,
          };
        }
      }
      models.push(entry);
    }
    if (o.model && models.length === 0) continue;
    result.environments.push({ environment: env.name, file: env.file, models });
  }
  if (o.model && result.environments.length === 0)
    notes.push(`${o.model} ran in no environment${o.environment ? ` "${o.environment}"` : ''} at that moment`);
  return result;
}

const entryAt = new Map<string, Record<string, unknown> | null>();
function deploymentAt(repo: string, commit: string, file: string, model: string): string {
  const key = `${commit}:${file}`;
  if (!entryAt.has(key)) {
    const r = runGit(repo, ['show', key]);
    entryAt.set(
      key,
      r.status === 0
        ? ((parseDocument(r.stdout.toString()).toJS() as { models?: Record<string, unknown> })?.models ?? null)
        : null,
    );
  }
  return JSON.stringify(entryAt.get(key)?.[model] ?? null);
}

function lastChange(
  repo: string,
  file: string,
  model: string,
  now: unknown,
  blamed: ChangeRecord,
  head: string,
  known: Map<string, ChangeRecord>,
): ChangeRecord | undefined {
  const want = JSON.stringify(now);
  const later = git(repo, [
    'log',
    '--first-parent',
    '--format=%H%x00%an%x00%ae%x00%cI%x00%s',
    `${blamed.commit}..${head}`,
    '--',
    file,
  ])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\0'));
  // Newest first: the first commit whose parent's entry differs from the current one changed it last.
  let prev = blamed;
  for (const [commit, author, email, date, subject] of later.reverse()) {
    const before = deploymentAt(repo, `${commit}^`, file, model);
    const after = deploymentAt(repo, commit!, file, model);
    if (before !== after && after === want) {
      prev = known.get(commit!) ?? {
        commit: commit!,
        author: author!,
        email: email!,
        date: new Date(date!).toISOString(),
        subject: subject!,
        ...prNumber(subject!),
      };
    }
  }
  return prev;
}

function prNumber(subject: string): { pullRequest?: { number: number } } {
  const pr = /^Merge pull request #(\d+)\b/.exec(subject) ?? /\(#(\d+)\)\s*$/.exec(subject);
  return pr ? { pullRequest: { number: Number(pr[1]) } } : {};
}

/** Markdown for a compliance ticket: one table per environment, the sources named. */
export function auditMarkdown(r: AuditResult): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const out: string[] = [`## What ran at ${r.at}`, ''];
  out.push(
    r.ref
      ? `- Registry: \`${r.ref.name}\` at commit \`${r.ref.commit}\` (landed ${r.ref.date})`
      : '- Registry: no commit at or before this moment',
  );
  if (r.manifest)
    out.push(
      `- Published manifest: sequence ${r.manifest.sequence}, published ${r.manifest.publishedAt}, from commit \`${r.manifest.commit}\`, sha256 \`${r.manifest.sha256}\``,
    );
  for (const n of r.notes) out.push(`- Note: ${n}`);
  for (const env of r.environments) {
    out.push(
      '',
      `### ${env.environment}`,
      '',
      '| Model | Version | Canary | Rollback window | Changed by | When | Commit | Pull request | Approved by | Evidence |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const m of env.models) {
      const ch = m.changed;
      const pr = ch?.pullRequest;
      const ev = m.evidence;
      const version =
        m.published && m.published.version !== m.version
          ? `${m.version} (published: ${m.published.version})`
          : m.version;
      out.push(
        `| ${cell(m.model)} | ${cell(version)} | ${m.canary ? `${m.canary.version} @ ${m.canary.weight}` : ''} | ${(m.rollbackWindow ?? []).join(', ')} | ` +
          `${ch ? cell(`${ch.author} <${ch.email}>`) : ''} | ${ch?.date ?? ''} | ${ch ? `\`${ch.commit.slice(0, 12)}\`` : ''} | ` +
          `${pr ? (pr.url ? `[#${pr.number}](${pr.url})` : `#${pr.number}`) : ''} | ${pr?.approvers ? cell(pr.approvers.join(', ') || 'none') : ''} | ` +
          `${ev ? cell(`${ev.verdict} on ${ev.testbed}, report sha256 ${ev.reportSha256 ?? 'missing'}`) : ''} |`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}
