// `model-gitops audit`: what ran where at a moment, who changed and approved it, on which evidence.
import { resolve, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { runGit } from '../lib/git.ts';
import { audit, auditMarkdown, type GitHubAccess } from '../lifecycle/audit.ts';
import { openStore } from '../store/index.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';

const usage =
  'model-gitops audit [--environment E] [--model M] [--at TIME] [--repo DIR] [--ref main] [--store URL] [--github-repository OWNER/NAME] [--token TOKEN] [--json | --markdown]';

const help = `usage: ${usage}

What ran in each environment at --at (default: now): the registry from git (the last commit of --ref at
or before that moment; the commit that last changed each model's entry, its author and date), the signed
manifest in effect from --store (its sequence and the benchmark report that let each version in, with
the report's sha256), and, with a GitHub token, the pull request and who approved it.

  --at TIME                 ISO 8601, e.g. 2026-11-24T10:00:00Z
  --store URL               the store the manifests are published to (optional)
  --github-repository O/N   where the pull requests are (default: $GITHUB_REPOSITORY, else the origin remote)
  --token TOKEN             GitHub token (default: $GITHUB_TOKEN); the API is $GITHUB_API_URL (default https://api.github.com)
  --markdown                a section to paste into a compliance ticket
  --json                    the answer as JSON`;

export const auditCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        environment: { type: 'string', short: 'e' },
        model: { type: 'string', short: 'm' },
        at: { type: 'string' },
        repo: { type: 'string', default: '.' },
        ref: { type: 'string', default: 'main' },
        store: { type: 'string' },
        'github-repository': { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
        markdown: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    if (values.json && values.markdown) throw new UserError('--json and --markdown cannot be combined: pick one');
    const at = values.at === undefined ? new Date() : new Date(values.at);
    if (Number.isNaN(at.getTime()))
      throw new UserError(`--at must be a date and time (ISO 8601, e.g. 2026-11-24T10:00:00Z), got "${values.at}"`);
    const repo = resolve(values.repo);
    const token = values.token ?? process.env.GITHUB_TOKEN;
    let github: GitHubAccess | undefined;
    if (token) {
      const repository = values['github-repository'] ?? process.env.GITHUB_REPOSITORY ?? originRepository(repo);
      if (!repository)
        throw new UserError('a GitHub token was given but not the repository: pass --github-repository OWNER/NAME');
      github = { apiUrl: process.env.GITHUB_API_URL ?? 'https://api.github.com', repository, token };
    }
    const store = values.store ? openStore(values.store, { s3: { stateDir: join(repo, '.model-gitops') } }) : undefined;
    const r = await audit({
      repo,
      ref: values.ref,
      at,
      ...(values.environment ? { environment: values.environment } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(store ? { store } : {}),
      ...(github ? { github } : {}),
    });
    if (values.json) printJson(r);
    else if (values.markdown) process.stdout.write(auditMarkdown(r));
    else {
      console.log(
        `at ${r.at}: ${r.ref ? `${r.ref.name} ${r.ref.commit.slice(0, 12)}` : 'no commit'}${r.manifest ? `, manifest sequence ${r.manifest.sequence}` : ''}`,
      );
      for (const env of r.environments) {
        console.log(`\n${env.environment}`);
        console.log(
          table(
            env.models.map((m) => [
              `  ${m.model}`,
              m.version + (m.canary ? ` (canary ${m.canary.version} @ ${m.canary.weight})` : ''),
              m.changed ? `${m.changed.author} ${m.changed.date.slice(0, 10)} ${m.changed.commit.slice(0, 12)}` : '',
              m.changed?.pullRequest
                ? `#${m.changed.pullRequest.number}${m.changed.pullRequest.approvers ? ` approved by ${m.changed.pullRequest.approvers.join(', ') || 'nobody'}` : ''}`
                : '',
              m.evidence
                ? `${m.evidence.verdict} ${m.evidence.testbed} ${m.evidence.reportSha256?.slice(0, 12) ?? 'report missing'}`
                : '',
            ]),
          ),
        );
      }
      for (const n of r.notes) console.log(`note: ${n}`);
    }
    return EXIT.ok;
  },
};

/** owner/name of a GitHub origin remote, if there is one. */
function originRepository(repo: string): string | undefined {
  const r = runGit(repo, ['remote', 'get-url', 'origin']);
  if (r.status !== 0) return undefined;
  return /github\.com[/:]([^/]+\/[^/]+?)(?:\.git)?\s*$/.exec(r.stdout.toString())?.[1];
}
