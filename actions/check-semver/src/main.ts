// GitHub Action adapter over src/review/check.ts: inputs -> check -> annotations, job summary, outputs and
// one pull-request comment that is found again by a hidden marker and updated in place.
import { posix } from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { UserError } from '../../../src/lib/errors.ts';
import { type CheckResult, addProductionEvidence, bumpSummary, compareWithBase } from '../../../src/review/check.ts';
import { storeReportSource } from '../../../src/benchmark/store-evidence.ts';
import { openStore } from '../../../src/store/open.ts';
import { bumpTable } from '../../../src/review/semver-bump.ts';
import type { Diagnostic } from '../../../src/registry/diagnostics.ts';
import { annotate, workspacePrefix } from '../../shared/annotations.ts';
import { upsertOwnComment } from '../../shared/comments.ts';
import { booleanInput, optionalInput, stringInput } from '../../shared/inputs.ts';
import { runAction } from '../../shared/run.ts';

/** The inputs of action.yml. */
const INPUT = {
  repo: 'repo',
  base: 'base',
  githubToken: 'github-token',
  evidenceStore: 'evidence-store',
  comment: 'comment',
} as const;

export const MARKER = '<!-- model-gitops:check-semver -->';
const MAX_COMMENT = 60_000; // GitHub refuses comments over 65,536 characters

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The pull-request comment (and job summary); `prefix` is the registry's folder in the workspace (see workspacePrefix). */
export function report(r: CheckResult, prefix: string): string {
  const out: string[] = [MARKER, `## model-gitops check ${r.errors === 0 ? 'passed' : 'failed'}`, ''];
  out.push(
    `Compared with \`${r.base.commit.slice(0, 12)}\` (${r.base.ref}): ${r.changes.length} change${r.changes.length === 1 ? '' : 's'}, ${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}.`,
    '',
  );
  if (r.diagnostics.length > 0) {
    out.push('### Violations', '', '| | File | Rule | Problem |', '|---|---|---|---|');
    for (const d of r.diagnostics) {
      const first = d.message.split('\n')[0]!;
      out.push(
        `| ${d.severity === 'error' ? 'error' : 'warning'} | \`${prefix ? posix.join(prefix, d.file) : d.file}:${d.line}\` | \`${d.rule}\` | ${esc(d.field ? `${d.field}: ${first}` : first)} |`,
      );
    }
    out.push('');
  }
  const refused = r.semver.filter((v) => !v.ok && !v.duplicateOf);
  for (const v of refused) {
    // An inserted version refused because the merged version above it would no longer be a valid bump
    // over it: that comparison is the reason, so it is the table shown.
    const follower = v.next && !v.next.ok ? v.next : undefined;
    const heading = follower
      ? `#### ${v.model} ${v.version} (inserted below ${follower.version}): ${follower.version} would be a ${follower.actual} bump over it, needs ${follower.required}`
      : `#### ${v.model} ${v.version}: ${v.actual} bump over ${v.previous}, needs ${v.required}`;
    out.push(heading, '', '| Field | Change | Needs | Why |', '|---|---|---|---|');
    for (const row of (follower ?? v).rows) {
      out.push(`| \`${row.field}\` | ${esc(row.change)} | ${row.needs} | ${esc(row.why)} |`);
    }
    out.push('');
  }
  if (r.semver.length > 0) {
    out.push('### New versions', '', '| Model | Version | Verdict |', '|---|---|---|');
    for (const v of r.semver) out.push(`| ${v.model} | ${v.version} | ${v.ok ? '' : 'refused: '}${bumpSummary(v)} |`);
    out.push('');
  }
  if (r.changes.length > 0) {
    out.push('### Changes', '');
    for (const c of r.changes.slice(0, 200)) out.push(`- ${c.description}`);
    if (r.changes.length > 200) out.push(`- ... and ${r.changes.length - 200} more`);
  }
  let body = out.join('\n');
  if (body.length > MAX_COMMENT)
    body = `${body.slice(0, MAX_COMMENT)}\n\n(report cut; the job summary and the \`report\` output hold everything)`;
  return body;
}

async function upsertComment(token: string, body: string): Promise<number | undefined> {
  const pr = github.context.payload.pull_request;
  if (!pr) {
    core.info('not a pull_request event: no comment');
    return undefined;
  }
  const { owner, repo } = github.context.repo;
  // Only a comment of the token's own identity is updated (see actions/shared/comments.ts).
  const r = await upsertOwnComment(github.getOctokit(token), { owner, repo, issue: pr.number }, MARKER, body);
  core.info(`${r.updated ? 'updated' : 'created'} comment ${r.id}`);
  return r.id;
}

async function run(): Promise<void> {
  const repoDir = stringInput(INPUT.repo, '.');
  const base = stringInput(INPUT.base, (github.context.payload.pull_request?.base?.sha as string | undefined) ?? '');
  if (base === '') throw new UserError('no base: set the `base` input or run on a pull_request event');
  const evidence = optionalInput(INPUT.evidenceStore);
  const comment = booleanInput(INPUT.comment, true);
  const comparison = compareWithBase(repoDir, base);
  const result =
    evidence === undefined
      ? comparison.result
      : await addProductionEvidence(comparison, storeReportSource(openStore(evidence)));
  // Annotations must name files relative to the workspace root, where GitHub shows the diff.
  const prefix = workspacePrefix(repoDir);
  const title = (d: Diagnostic) => `model-gitops ${d.rule}${d.field ? `: ${d.field}` : ''}`;
  annotate(result.diagnostics, { prefix, title, message: (d) => d.message });
  const body = report(result, prefix);
  await core.summary.addRaw(body.replace(MARKER, '')).write();
  core.setOutput('result', result.errors === 0 ? 'pass' : 'fail');
  core.setOutput('errors', result.errors);
  core.setOutput('warnings', result.warnings);
  core.setOutput('changes', result.changes.length);
  core.setOutput('report', JSON.stringify(result));
  let commentId: number | undefined;
  if (comment) {
    try {
      commentId = await upsertComment(stringInput(INPUT.githubToken), body);
    } catch (e) {
      // Tokens of pull requests from forks are read-only; the annotations and summary still stand.
      core.warning(`could not write the pull-request comment: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  core.setOutput('comment-id', commentId ?? '');
  if (result.errors > 0) {
    const failing = result.semver.filter((v) => !v.ok && !v.duplicateOf);
    core.info(failing.map((v) => `${v.model} ${v.version}:\n${bumpTable(v.rows)}`).join('\n'));
    core.setFailed(`${result.errors} violation${result.errors === 1 ? '' : 's'} against ${base.slice(0, 12)}`);
  }
}

void runAction(run);
