// Shared by the actions: one pull-request comment per purpose, found again by a hidden marker and
// updated in place. Only a comment written by the identity of the token is ever edited: anyone can
// paste the marker into a comment of their own, and editing it would put our report under their name
// (or let them steer which comment carries it).
import * as core from '@actions/core';
import type * as github from '@actions/github';

type Octokit = ReturnType<typeof github.getOctokit>;

export interface CommentTarget {
  owner: string;
  repo: string;
  /** Pull-request (issue) number. */
  issue: number;
}

/**
 * The login of the token's identity, asked of the API: `github-actions[bot]` for GITHUB_TOKEN,
 * `<app-slug>[bot]` for a GitHub App installation token, the user for a personal token. GraphQL
 * `viewer` answers for all three; REST `GET /user` refuses installation tokens (403).
 */
export async function tokenLogin(octokit: Octokit): Promise<string> {
  const r = await octokit.graphql<{ viewer?: { login?: string } }>('query { viewer { login } }');
  const login = r.viewer?.login;
  if (!login) throw new Error('the GitHub API did not say who the token belongs to (viewer.login)');
  return login;
}

/** True when `user` is `login`; a bot's comments carry `<name>[bot]` whichever of the two forms the API gave. */
export function sameIdentity(user: { login?: string } | null | undefined, login: string): boolean {
  const strip = (s: string) => s.replace(/\[bot\]$/, '');
  return user?.login !== undefined && (user.login === login || strip(user.login) === strip(login));
}

/**
 * Creates the comment, or updates the one the token's identity wrote earlier that holds `marker`
 * (and `key`, when given). Returns the comment's id.
 */
export async function upsertOwnComment(
  octokit: Octokit,
  target: CommentTarget,
  marker: string,
  body: string,
  key?: string,
): Promise<{ id: number; updated: boolean }> {
  const { owner, repo, issue } = target;
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    owner,
    repo,
    issue_number: issue,
    per_page: 100,
  });
  const marked = comments.filter((c) => c.body?.includes(marker) && (key === undefined || c.body.includes(key)));
  // Ask who we are only when there is a candidate to tell apart.
  const login = marked.length > 0 ? await tokenLogin(octokit) : undefined;
  const mine = login === undefined ? undefined : marked.find((c) => sameIdentity(c.user, login));
  const others = marked.length - (mine ? 1 : 0);
  if (others > 0) core.info(`${others} comment(s) with the marker were not written by ${login}: left alone`);
  if (mine) {
    await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
    return { id: mine.id, updated: true };
  }
  const created = await octokit.rest.issues.createComment({ owner, repo, issue_number: issue, body });
  return { id: created.data.id, updated: false };
}
