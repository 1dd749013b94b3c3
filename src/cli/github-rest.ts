// The few GitHub REST calls continuous evaluation and experiments make: one issue per model (found
// again by a hidden marker and updated in place), one verdict comment per pull request, and opening a
// pull request. Plain fetch against GITHUB_API_URL (GitHub Enterprise and the tests' stand-in work the
// same way). As in actions/shared/comments.ts, only what the token's own identity wrote is ever edited:
// anyone can paste a marker into an issue of their own.
import { UserError } from '../lib/errors.ts';

export interface GitHubTarget {
  api: string;
  graphql: string;
  token: string;
  owner: string;
  repo: string;
}

export function githubFromEnv(env: NodeJS.ProcessEnv = process.env): GitHubTarget {
  const token = env.GITHUB_TOKEN ?? env.GH_TOKEN;
  const full = env.GITHUB_REPOSITORY;
  if (!token)
    throw new UserError('GITHUB_TOKEN (or GH_TOKEN) is not set: the issue and pull-request steps need a token');
  if (!full || !/^[\w.-]+\/[\w.-]+$/.test(full))
    throw new UserError(`GITHUB_REPOSITORY must be owner/name, got ${JSON.stringify(full)}`);
  const api = (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/$/, '');
  const [owner, repo] = full.split('/') as [string, string];
  return { api, graphql: env.GITHUB_GRAPHQL_URL ?? `${api}/graphql`, token, owner, repo };
}

async function call<T>(gh: GitHubTarget, method: string, path: string, body?: unknown): Promise<T> {
  const url = path.startsWith('http') ? path : `${gh.api}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${gh.token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new GitHubError(res.status, `${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export class GitHubError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface Item {
  number: number;
  id: number;
  body?: string | null;
  user?: { login?: string } | null;
  pull_request?: unknown;
}

/** Follows `Link: rel="next"` is not needed for 100 open issues per label; more are refused loudly. */
async function list<T>(gh: GitHubTarget, path: string): Promise<T[]> {
  const items = await call<T[]>(gh, 'GET', path);
  if (!Array.isArray(items)) throw new Error(`GET ${path}: expected a list`);
  return items;
}

/** The login of the token's identity (GraphQL viewer answers for GITHUB_TOKEN, app and user tokens alike). */
export async function tokenLogin(gh: GitHubTarget): Promise<string> {
  const r = await call<{ data?: { viewer?: { login?: string } } }>(gh, 'POST', gh.graphql, {
    query: 'query { viewer { login } }',
  });
  const login = r?.data?.viewer?.login;
  if (!login) throw new Error('the GitHub API did not say who the token belongs to (viewer.login)');
  return login;
}

const same = (user: Item['user'], login: string) => {
  const strip = (s: string) => s.replace(/\[bot\]$/, '');
  return user?.login !== undefined && (user.login === login || strip(user.login) === strip(login));
};

/** Opens the issue, or updates the open one the token's identity wrote with `marker` in its body. */
export async function upsertIssue(
  gh: GitHubTarget,
  o: { marker: string; title: string; body: string; labels: string[] },
): Promise<{ number: number; updated: boolean }> {
  const body = `${o.marker}\n${o.body}`;
  const labels = encodeURIComponent(o.labels.join(','));
  const open = await list<Item>(gh, `/repos/${gh.owner}/${gh.repo}/issues?state=open&labels=${labels}&per_page=100`);
  const marked = open.filter((i) => !i.pull_request && i.body?.includes(o.marker));
  const login = marked.length > 0 ? await tokenLogin(gh) : undefined;
  const mine = login === undefined ? undefined : marked.find((i) => same(i.user, login));
  if (mine) {
    await call(gh, 'PATCH', `/repos/${gh.owner}/${gh.repo}/issues/${mine.number}`, { title: o.title, body });
    return { number: mine.number, updated: true };
  }
  const created = await call<Item>(gh, 'POST', `/repos/${gh.owner}/${gh.repo}/issues`, {
    title: o.title,
    body,
    labels: o.labels,
  });
  return { number: created.number, updated: false };
}

/** Creates or updates the token identity's comment holding `marker` on an issue or pull request. */
export async function upsertComment(
  gh: GitHubTarget,
  issue: number,
  marker: string,
  text: string,
): Promise<{ id: number; updated: boolean }> {
  const body = `${marker}\n${text}`;
  const comments = await list<Item>(gh, `/repos/${gh.owner}/${gh.repo}/issues/${issue}/comments?per_page=100`);
  const marked = comments.filter((c) => c.body?.includes(marker));
  const login = marked.length > 0 ? await tokenLogin(gh) : undefined;
  const mine = login === undefined ? undefined : marked.find((c) => same(c.user, login));
  if (mine) {
    await call(gh, 'PATCH', `/repos/${gh.owner}/${gh.repo}/issues/comments/${mine.id}`, { body });
    return { id: mine.id, updated: true };
  }
  const c = await call<Item>(gh, 'POST', `/repos/${gh.owner}/${gh.repo}/issues/${issue}/comments`, { body });
  return { id: c.id, updated: false };
}

/** Opens a pull request from an already pushed branch, or returns the open one for that branch. */
export async function openPullRequest(
  gh: GitHubTarget,
  o: { head: string; base: string; title: string; body: string },
): Promise<{ number: number; existed: boolean }> {
  const existing = await list<Item>(
    gh,
    `/repos/${gh.owner}/${gh.repo}/pulls?state=open&head=${encodeURIComponent(`${gh.owner}:${o.head}`)}`,
  );
  if (existing[0]) return { number: existing[0].number, existed: true };
  const pr = await call<Item>(gh, 'POST', `/repos/${gh.owner}/${gh.repo}/pulls`, o);
  return { number: pr.number, existed: false };
}
