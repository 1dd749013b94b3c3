// What git knows about the registry, read in two passes whatever the registry's size: one `git log`
// over environments/ (the promotion timeline) and one over models/ (when each card landed), both along
// main's first-parent chain, so a merged pull request is one event whose commit is the merge (its subject
// names the pull request, its author is who merged it). The environment files at each of those commits
// come out of one `git cat-file --batch`.
import { parse } from 'yaml';
import { gitBytes, runGit } from '../lib/git.ts';
import { type Deployment, normaliseDeployment } from '../registry/types.ts';

export interface CommitInfo {
  sha: string;
  /** Position along the first-parent chain, oldest first (0-based): orders events without trusting clocks. */
  index: number;
  author: string;
  authorEmail: string;
  /** Author date, ISO 8601. */
  date: string;
  committer: string;
  subject: string;
  /** A merge on main: more than one parent. */
  merge: boolean;
  /** From "Merge pull request #N from …" or a squash subject ending in "(#N)". */
  pullRequest?: number;
  /** Reviewed-by / Approved-by trailers (of a merge: its own and those of the commits it merged). */
  reviewers: string[];
  /** Of a merge: the authors of the commits it brought in (who proposed the change). */
  proposers: string[];
}

export type Role = 'champion' | 'canary';

/** One change of what an environment runs, from one commit on main. */
export interface PromotionEvent {
  environment: string;
  model: string;
  role: Role;
  from: string | null;
  to: string | null;
  /** Canary weight after the change. */
  weight?: string;
  commit: CommitInfo;
}

export interface CardHistory {
  /** The first commit on main that had this file. */
  added: CommitInfo;
  /** The latest commit on main that changed it (metrics, notes, deprecation). */
  changed: CommitInfo;
}

export interface GitHistory {
  head: CommitInfo | undefined;
  commits: CommitInfo[];
  events: PromotionEvent[];
  /** By repository path (models/<m>/versions/<v>.yaml, models/<m>/model.yaml). */
  cards: Map<string, CardHistory>;
  /** Historical environment files that did not parse (the timeline skips them). */
  unreadable: { environment: string; commit: string }[];
}

const RS = '\x1e';
const US = '\x1f';
const FORMAT = `${RS}%H${US}%P${US}%an${US}%ae${US}%aI${US}%cn${US}%s${US}%(trailers:key=Reviewed-by,key=Approved-by,valueonly,separator=%x1d)${US}`;
const ZERO = /^0+$/;

export function pullRequestOf(subject: string): number | undefined {
  const m = /^Merge pull request #(\d+) /.exec(subject) ?? /\(#(\d+)\)\s*$/.exec(subject);
  return m ? Number(m[1]) : undefined;
}

interface RawChange {
  path: string;
  newOid: string | undefined;
}

/** One first-parent `git log --raw` pass; commits oldest first with the files each changed under `root`. */
function logPass(
  repo: string,
  ref: string,
  root: string,
): { commit: Omit<CommitInfo, 'index'>; changes: RawChange[] }[] {
  const r = runGit(repo, [
    'log',
    '--first-parent',
    '--raw',
    '--no-abbrev',
    '--no-renames',
    `--format=${FORMAT}`,
    ref,
    '--',
    root,
  ]);
  if (r.status !== 0) {
    // A repository without commits has no history yet; anything else is git's message.
    if (/does not have any commits|unknown revision/.test(r.stderr)) return [];
    throw new Error(`git log over ${root}/ failed: ${r.stderr.trim()}`);
  }
  const out: { commit: Omit<CommitInfo, 'index'>; changes: RawChange[] }[] = [];
  for (const record of r.stdout.toString('utf8').split(RS)) {
    if (record === '') continue;
    const f = record.split(US);
    const [sha, parents, author, authorEmail, date, committer, subject, trailers] = f;
    const rest = f.slice(8).join(US);
    const changes: RawChange[] = [];
    for (const line of rest.split('\n')) {
      // :100644 100644 <old> <new> M\tpath
      if (!line.startsWith(':')) continue;
      const tab = line.indexOf('\t');
      const meta = line.slice(1, tab).split(' ');
      const newOid = meta[3]!;
      changes.push({ path: line.slice(tab + 1), newOid: ZERO.test(newOid) ? undefined : newOid });
    }
    const pr = pullRequestOf(subject ?? '');
    out.push({
      commit: {
        sha: sha!,
        author: author!,
        authorEmail: authorEmail!,
        date: date!,
        committer: committer!,
        subject: subject!,
        merge: (parents ?? '').trim().split(' ').length > 1,
        ...(pr !== undefined ? { pullRequest: pr } : {}),
        reviewers: (trailers ?? '')
          .split('\x1d')
          .map((s) => s.trim())
          .filter(Boolean),
        proposers: [],
      },
      changes,
    });
  }
  return out.reverse();
}

/** Reads many blobs through one `git cat-file --batch`. */
function readBlobs(repo: string, oids: string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (oids.length === 0) return out;
  const buf = gitBytes(repo, ['cat-file', '--batch'], `${oids.join('\n')}\n`);
  let at = 0;
  for (const oid of oids) {
    const nl = buf.indexOf(10, at);
    const header = buf.subarray(at, nl).toString('utf8');
    const [, type, size] = header.split(' ');
    at = nl + 1;
    if (type !== 'blob') continue; // "<oid> missing"
    const n = Number(size);
    out.set(oid, buf.subarray(at, at + n).toString('utf8'));
    at += n + 1;
  }
  return out;
}

type EnvState = Map<string, Deployment>;

/** An environment file as it was at some commit; lenient (old files may predate today's schema). */
function envState(text: string): EnvState | undefined {
  let data: unknown;
  try {
    data = parse(text);
  } catch {
    return undefined;
  }
  const models = (data as { models?: unknown } | null)?.models;
  if (typeof models !== 'object' || models === null) return new Map();
  const state: EnvState = new Map();
  for (const [name, d] of Object.entries(models as Record<string, unknown>)) {
    if (typeof d === 'string') state.set(name, normaliseDeployment(d));
    else if (typeof d === 'object' && d !== null && typeof (d as Deployment).version === 'string') {
      const dep = d as Deployment;
      const canary =
        dep.canary && typeof dep.canary.version === 'string'
          ? { version: dep.canary.version, weight: String(dep.canary.weight) }
          : undefined;
      state.set(name, {
        version: dep.version,
        ...(canary ? { canary } : {}),
        rollbackWindow: Array.isArray(dep.rollbackWindow) ? dep.rollbackWindow.map(String) : [],
      });
    }
  }
  return state;
}

function diffStates(
  environment: string,
  before: EnvState,
  after: EnvState,
  commit: CommitInfo,
  events: PromotionEvent[],
): void {
  const names = new Set([...before.keys(), ...after.keys()]);
  for (const model of [...names].sort()) {
    const a = before.get(model);
    const b = after.get(model);
    if ((a?.version ?? null) !== (b?.version ?? null))
      events.push({ environment, model, role: 'champion', from: a?.version ?? null, to: b?.version ?? null, commit });
    const ac = a?.canary;
    const bc = b?.canary;
    if ((ac?.version ?? null) !== (bc?.version ?? null) || (ac?.weight ?? null) !== (bc?.weight ?? null))
      events.push({
        environment,
        model,
        role: 'canary',
        from: ac?.version ?? null,
        to: bc?.version ?? null,
        ...(bc ? { weight: bc.weight } : {}),
        commit,
      });
  }
}

export function readGitHistory(repo: string, ref = 'HEAD'): GitHistory {
  const envPass = logPass(repo, ref, 'environments');
  const modelPass = logPass(repo, ref, 'models');

  // One commit object per sha, indexed along the merged first-parent order of both passes.
  const bySha = new Map<string, CommitInfo>();
  const order = runGit(repo, ['rev-list', '--first-parent', '--reverse', ref]);
  const shas = order.status === 0 ? order.stdout.toString('utf8').split('\n').filter(Boolean) : [];
  const indexOf = new Map(shas.map((s, i) => [s, i]));
  const intern = (c: Omit<CommitInfo, 'index'>): CommitInfo => {
    let got = bySha.get(c.sha);
    if (!got) {
      got = { ...c, index: indexOf.get(c.sha) ?? -1 };
      bySha.set(c.sha, got);
    }
    return got;
  };

  const oids = new Set<string>();
  for (const e of envPass) for (const ch of e.changes) if (ch.newOid) oids.add(ch.newOid);
  const blobs = readBlobs(repo, [...oids]);
  const parsed = new Map<string, EnvState | undefined>();
  const states = new Map<string, EnvState>();
  const events: PromotionEvent[] = [];
  const unreadable: GitHistory['unreadable'] = [];
  for (const e of envPass) {
    const commit = intern(e.commit);
    for (const ch of e.changes) {
      const m = /^environments\/([^/]+)\.yaml$/.exec(ch.path);
      if (!m) continue;
      const env = m[1]!;
      let next: EnvState | undefined = new Map();
      if (ch.newOid) {
        if (!parsed.has(ch.newOid)) parsed.set(ch.newOid, envState(blobs.get(ch.newOid) ?? ''));
        next = parsed.get(ch.newOid);
      }
      if (next === undefined) {
        unreadable.push({ environment: env, commit: commit.sha });
        continue;
      }
      diffStates(env, states.get(env) ?? new Map(), next, commit, events);
      states.set(env, next);
    }
  }

  const cards = new Map<string, CardHistory>();
  for (const e of modelPass) {
    const commit = intern(e.commit);
    for (const ch of e.changes) {
      if (!ch.newOid) {
        cards.delete(ch.path); // deleted (a later re-add starts afresh)
        continue;
      }
      const had = cards.get(ch.path);
      if (had) had.changed = commit;
      else cards.set(ch.path, { added: commit, changed: commit });
    }
  }

  if ([...bySha.values()].some((c) => c.merge)) mergedBranches(repo, ref, bySha, new Set(shas));

  const headSha = shas[shas.length - 1];
  let head = headSha ? bySha.get(headSha) : undefined;
  if (headSha && !head) {
    const one = runGit(repo, ['log', '-1', `--format=${FORMAT}`, headSha]);
    const f = one.stdout.toString('utf8').replace(RS, '').split(US);
    head = {
      sha: headSha,
      index: shas.length - 1,
      author: f[2] ?? '',
      authorEmail: f[3] ?? '',
      date: f[4] ?? '',
      committer: f[5] ?? '',
      subject: f[6] ?? '',
      merge: (f[1] ?? '').trim().split(' ').length > 1,
      reviewers: [],
      proposers: [],
    };
  }
  const commits = [...bySha.values()].sort((a, b) => a.index - b.index);
  return { head, commits, events, cards, unreadable };
}

const MAX_BRANCH_WALK = 2000;

/**
 * For each merge on main: the commits it brought in (reachable from its second parent, not on main's
 * first-parent chain), their authors and their review trailers. One `git log` over the whole history,
 * then walks in memory.
 */
function mergedBranches(repo: string, ref: string, merges: Map<string, CommitInfo>, mainline: Set<string>): void {
  const r = runGit(repo, [
    'log',
    `--format=%H${US}%P${US}%an${US}%(trailers:key=Reviewed-by,key=Approved-by,valueonly,separator=%x1d)${RS}`,
    ref,
  ]);
  if (r.status !== 0) return;
  const graph = new Map<string, { parents: string[]; author: string; reviewers: string[] }>();
  for (const rec of r.stdout.toString('utf8').split(RS)) {
    const [sha, parents, author, trailers] = rec.trim().split(US);
    if (!sha) continue;
    graph.set(sha, {
      parents: (parents ?? '').split(' ').filter(Boolean),
      author: author ?? '',
      reviewers: (trailers ?? '')
        .split('\x1d')
        .map((x) => x.trim())
        .filter(Boolean),
    });
  }
  for (const c of merges.values()) {
    if (!c.merge) continue;
    const stack = (graph.get(c.sha)?.parents ?? []).slice(1);
    const seen = new Set<string>();
    const proposers = new Set<string>();
    const reviewers = new Set(c.reviewers);
    while (stack.length && seen.size < MAX_BRANCH_WALK) {
      const s = stack.pop()!;
      if (seen.has(s) || mainline.has(s)) continue;
      seen.add(s);
      const n = graph.get(s);
      if (!n) continue;
      proposers.add(n.author);
      for (const x of n.reviewers) reviewers.add(x);
      stack.push(...n.parents);
    }
    c.proposers = [...proposers].sort();
    c.reviewers = [...reviewers];
  }
}
