// Guards on .github/workflows, as data: each rule has an id, what it protects, and a check that lists
// the problems of one workflow (given the others, for rules about workflows that share a concurrency
// group). Every real workflow must pass every rule, and every rule must flag at least one bad workflow
// in test/fixtures/workflows/ (a rule that flags nothing checks nothing). A fixture is named after the
// rule it breaks (<rule-id>.yml or <rule-id>.<case>.yml) and is flagged by exactly that rule, unless its
// first line says otherwise: `# flags: rule-a, rule-b`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

type Dict = Record<string, unknown>;
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Dict;
  env?: Dict;
  if?: string;
  'working-directory'?: string;
}
interface Job {
  name?: string;
  'runs-on'?: unknown;
  permissions?: unknown;
  needs?: string | string[];
  if?: string;
  steps?: Step[];
  strategy?: { matrix?: unknown };
  concurrency?: unknown;
  'timeout-minutes'?: unknown;
  /** A reusable workflow. */
  uses?: string;
}
interface Workflow {
  name?: string;
  on: unknown;
  permissions?: unknown;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}
interface Loaded {
  file: string;
  text: string;
  wf: Workflow;
}
interface Rule {
  id: string;
  description: string;
  /** Problems of `w`, one line each; `all` holds every workflow checked with it (including `w`). */
  check: (w: Loaded, all: Loaded[]) => string[];
}

const load = (file: string, text: string): Loaded => ({ file, text, wf: parse(text) as Workflow });

// ---------------------------------------------------------------------------------------------- facts

/** Events whose workflow runs the pull request's own code (a fork's, too) with a read-only token. */
const FORK_CODE_EVENTS = ['pull_request', 'pull_request_review', 'pull_request_review_comment'];
/**
 * Events anyone can cause (a comment, a label, a fork's push to its pull request) whose workflow runs
 * the BASE branch's code with its secrets and write token.
 */
const UNTRUSTED_EVENTS = [
  'pull_request_target',
  'issue_comment',
  'issues',
  'discussion',
  'discussion_comment',
  'workflow_run',
  'pull_request_review',
  'pull_request_review_comment',
];
/** Folders of the registry: a checkout limited to them is data, never code. */
const DATA_FOLDERS = ['models', 'environments'];
/** The job that authorises a request from an untrusted event (see benchmark.yml). */
const AUTHORIZE = /^authori[sz]e$/;
/** Labels of GitHub-hosted runners; anything else may be a self-hosted machine. */
const HOSTED = /^(ubuntu|windows|macos)-[\w.-]+$/i;
/** Text from an event that its sender wrote (titles, bodies, comments, branch names) or a dispatcher typed. */
const UNTRUSTED_TEXT = /\bgithub\.event\.|\bgithub\.head_ref\b|\binputs\./;
/** Expressions naming the base of a pull request (trusted code). */
const BASE_REF =
  /^\s*(github\.event\.pull_request\.base\.(sha|ref)|github\.base_ref|github\.event\.repository\.default_branch)\s*$/;

/**
 * Third-party releases reviewed for this repository: the commit of each tag was read from the upstream
 * repository, and its action.yml runs on node24 (GitHub's Node 20 runtime is being removed). A new pin
 * goes here only after the same check.
 */
const REVIEWED_ACTIONS: Record<string, string> = {
  'actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8': 'v5.0.0',
  'actions/setup-node@2028fbc5c25fe9cf00d9f06a71cc4710d4507903': 'v6.0.0',
  'aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c': 'v6.2.3',
  'actions/create-github-app-token@1b10c78c7865c340bc4f6099eb2f838309f1e8c3': 'v3.1.1',
  // composite: runs actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f (v7.0.0, node24)
  'actions/upload-pages-artifact@fc324d3547104276b827a68afc52ff2a11cc49c9': 'v5.0.0',
  'actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128': 'v5.0.0',
};

// -------------------------------------------------------------------------------------------- helpers

const triggers = (wf: Workflow): string[] =>
  typeof wf.on === 'string'
    ? [wf.on]
    : Array.isArray(wf.on)
      ? wf.on.map(String)
      : Object.keys((wf.on as Dict | null) ?? {});
const hasAny = (wf: Workflow, events: string[]) => triggers(wf).some((t) => events.includes(t));
const jobs = (wf: Workflow) => Object.entries(wf.jobs ?? {});
const steps = (job: Job) => job.steps ?? [];
const action = (uses: string | undefined) => (uses ?? '').split('@')[0]!.toLowerCase();
const isCheckout = (s: Step) => action(s.uses) === 'actions/checkout';
const isFalse = (v: unknown) => v === false || v === 'false';
const expressions = (text: string) => [...text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)].map((m) => m[1]!);
const hasExpression = (v: unknown) => typeof v === 'string' && v.includes('${{');
const thirdParty = (uses: string) => !uses.startsWith('./') && !uses.startsWith('docker://');
const norm = (p: unknown) =>
  String(p ?? '')
    .replace(/^\.\//, '')
    .replace(/\/+$/, '');
const label = (w: Loaded, id: string, job: Job, step?: Step) =>
  `${w.file} ${id}${step ? ` step "${step.name ?? step.id ?? step.uses ?? (step.run ?? '').split('\n')[0]}"` : ''}`;

/** The token's permissions in a job: its own, else the workflow's. */
const permissionsOf = (wf: Workflow, job: Job) => job.permissions ?? wf.permissions;
/** May the job's token write (any scope, id-token included)? No `permissions` at all: the repository default, possibly write. */
function canWrite(p: unknown): boolean {
  if (p === undefined || p === null) return true;
  if (typeof p === 'string') return p === 'write-all';
  return Object.values(p as Dict).some((v) => v === 'write');
}
const privileged = (wf: Workflow, job: Job) => canWrite(permissionsOf(wf, job));

const needsOf = (job: Job | undefined) => (job?.needs === undefined ? [] : [job.needs].flat());
/** Every job `id` waits for, directly or not. */
function upstream(wf: Workflow, id: string): Set<string> {
  const seen = new Set<string>();
  const stack = needsOf(wf.jobs[id]);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...needsOf(wf.jobs[n]));
  }
  return seen;
}
/** Runs only after an `authorize` job succeeded: it needs one, and nothing on the way runs regardless (always(), failure()...). */
function behindAuthorization(wf: Workflow, id: string): boolean {
  const up = [...upstream(wf, id)];
  if (!up.some((n) => AUTHORIZE.test(n))) return false;
  return [id, ...up.filter((n) => !AUTHORIZE.test(n))].every(
    (n) => !/\b(always|failure|cancelled)\s*\(/.test(String(wf.jobs[n]?.if ?? '')),
  );
}

/**
 * The label sets a job can run on. `runs-on: ${{ matrix.x }}` is resolved from a literal matrix; any
 * other expression (a matrix from fromJSON, a variable) or a runner group is `unresolved`: possibly
 * self-hosted.
 */
function runners(job: Job): { sets: string[][]; unresolved?: string } {
  const ro = job['runs-on'];
  if (ro === undefined) return { sets: [] };
  if (typeof ro === 'object' && !Array.isArray(ro))
    return { sets: [], unresolved: `runner group ${JSON.stringify(ro)}` };
  const labels = [ro].flat().map(String);
  const sets: string[][] = [[]];
  for (const l of labels) {
    if (!hasExpression(l)) {
      for (const s of sets) s.push(l);
      continue;
    }
    const m = /^\$\{\{\s*matrix\.([\w-]+)\s*\}\}$/.exec(l.trim());
    const matrix = job.strategy?.matrix;
    if (!m || typeof matrix !== 'object' || matrix === null || Array.isArray(matrix))
      return { sets, unresolved: `runs-on ${l}` };
    const dims = matrix as Dict;
    const own = dims[m[1]!];
    const include = dims.include ?? [];
    if (hasExpression(own) || !Array.isArray(include))
      return { sets, unresolved: `runs-on ${l} (a matrix computed at run time)` };
    const values: unknown[] = [
      ...(own === undefined ? [] : Array.isArray(own) ? own : [own]),
      ...(include as Dict[]).map((e) => e?.[m[1]!]).filter((v) => v !== undefined),
    ];
    if (values.length === 0 || values.some((v) => [v].flat().some(hasExpression)))
      return { sets, unresolved: `runs-on ${l}` };
    const next: string[][] = [];
    for (const s of sets) for (const v of values) next.push([...s, ...[v].flat().map(String)]);
    sets.splice(0, sets.length, ...next);
  }
  return { sets };
}
function possiblySelfHosted(job: Job): string | undefined {
  const r = runners(job);
  if (r.unresolved) return r.unresolved;
  const self = r.sets.find((s) => !s.every((l) => HOSTED.test(l)));
  return self ? `runs-on [${self.join(', ')}]` : undefined;
}

/** A checkout ref that names trusted code: none (the event's default), a literal, or the base. */
function trustedRef(ref: unknown): boolean {
  if (ref === undefined || ref === null || ref === '') return true;
  if (!hasExpression(ref)) return true;
  return expressions(String(ref)).every((e) => BASE_REF.test(e));
}
/** A checkout of untrusted commits that stays data: in its own folder, no credentials, registry folders only, never run. */
function dataOnlyCheckout(job: Job, step: Step): boolean {
  const path = norm(step.with?.path);
  if (path === '' || path === '.') return false;
  if (!isFalse(step.with?.['persist-credentials'])) return false;
  const sparse = String(step.with?.['sparse-checkout'] ?? '')
    .split('\n')
    .map((l) => norm(l.trim()))
    .filter(Boolean);
  if (sparse.length === 0 || !sparse.every((f) => DATA_FOLDERS.includes(f))) return false;
  return steps(job).every(
    (s) =>
      !(s.uses ?? '').startsWith(`./${path}/`) &&
      norm(s['working-directory']) !== path &&
      !norm(s['working-directory']).startsWith(`${path}/`),
  );
}

const concurrencyGroup = (c: unknown): string | undefined =>
  c === undefined || c === null ? undefined : typeof c === 'string' ? c : String((c as Dict).group ?? '');
const cancels = (c: unknown) => typeof c === 'object' && c !== null && (c as Dict)['cancel-in-progress'] === true;
const isPublishStep = (s: Step) => /^\.\/(.+\/)?actions\/publish-manifest$/.test(s.uses ?? '');
const publishes = (w: Loaded) =>
  jobs(w.wf).some(([, j]) =>
    steps(j).some((s) => isPublishStep(s) || /\bmodel-gitops(\.js)?\s+publish\b/.test(s.run ?? '')),
  );
const MAIN = ['main', 'refs/heads/main'];

// --------------------------------------------------------------------------------------------- rules

const RULES: Rule[] = [
  {
    id: 'permissions-least-privilege',
    description:
      'Top-level `permissions` is set, grants no write scope (writes are granted per job, to the job that needs them), and no token anywhere is write-all/read-all.',
    check: ({ file, wf }) => {
      const out: string[] = [];
      const p = wf.permissions;
      if (p === undefined || p === null) out.push(`${file}: no top-level permissions (the repository default applies)`);
      else if (typeof p === 'string') out.push(`${file}: top-level permissions: ${p}; list the scopes`);
      else
        for (const [scope, v] of Object.entries(p as Dict))
          if (v === 'write') out.push(`${file}: top-level ${scope}: write; grant it in the job that needs it`);
      for (const [id, job] of jobs(wf))
        if (typeof job.permissions === 'string')
          out.push(`${file} ${id}: permissions: ${job.permissions}; list the scopes it needs`);
      return out;
    },
  },
  {
    id: 'actions-pinned',
    description:
      'Every third-party action and reusable workflow is pinned by a full commit SHA with a `# vX.Y.Z` comment naming its release; docker images by digest.',
    check: ({ file, text, wf }) => {
      const out: string[] = [];
      const uses = jobs(wf).flatMap(([id, job]) => [
        ...(job.uses ? [{ id, uses: job.uses }] : []),
        ...steps(job).flatMap((s) => (s.uses ? [{ id, uses: s.uses }] : [])),
      ]);
      for (const { id, uses: u } of uses) {
        if (u.startsWith('docker://')) {
          if (!/@sha256:[0-9a-f]{64}$/.test(u)) out.push(`${file} ${id}: ${u} is not pinned by digest`);
          continue;
        }
        if (!thirdParty(u)) continue;
        if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(u)) {
          out.push(`${file} ${id}: ${u} is not pinned by a full commit SHA`);
          continue;
        }
        const lines = text.split('\n').filter((l) => l.includes(u));
        for (const l of lines)
          if (!/#\s*v\d+\.\d+\.\d+\b/.test(l)) out.push(`${file} ${id}: ${u} has no "# vX.Y.Z" comment`);
      }
      return out;
    },
  },
  {
    id: 'actions-reviewed-node24',
    description:
      'Every third-party pin is a reviewed release (REVIEWED_ACTIONS: its commit read from upstream, its action.yml on node24), and its comment names that release.',
    check: ({ file, text, wf }) => {
      const out: string[] = [];
      for (const [id, job] of jobs(wf))
        for (const u of [job.uses, ...steps(job).map((s) => s.uses)]) {
          if (!u || !thirdParty(u)) continue;
          const version = REVIEWED_ACTIONS[u];
          if (!version) {
            out.push(`${file} ${id}: ${u} is not a reviewed release on node24 (see REVIEWED_ACTIONS)`);
            continue;
          }
          for (const l of text.split('\n').filter((x) => x.includes(u))) {
            const c = /#\s*(v\d+\.\d+\.\d+)\b/.exec(l);
            if (c && c[1] !== version) out.push(`${file} ${id}: ${u} is ${version}, not ${c[1]}`);
          }
        }
      return out;
    },
  },
  {
    id: 'no-untrusted-checkout',
    description:
      'A workflow started by an untrusted event (pull_request_target, issue_comment, ...: base code, secrets, write token) never checks out the pull request as code: a non-base ref only as data (own folder, no credentials, sparse models/environments, nothing run from it).',
    check: (w) => {
      if (!hasAny(w.wf, UNTRUSTED_EVENTS)) return [];
      const out: string[] = [];
      for (const [id, job] of jobs(w.wf))
        for (const s of steps(job).filter(isCheckout)) {
          const ref = s.with?.ref;
          const repo = s.with?.repository;
          const foreign = hasExpression(repo) && !/^\s*github\.repository\s*$/.test(expressions(String(repo)).join(''));
          if ((trustedRef(ref) && !foreign) || dataOnlyCheckout(job, s)) continue;
          out.push(
            `${label(w, id, job, s)}: checks out ${String(ref ?? repo)} as code under ${triggers(w.wf).join(', ')}`,
          );
        }
      return out;
    },
  },
  {
    id: 'no-untrusted-expressions-in-run',
    description:
      'No `${{ github.event.* }}`, `${{ github.head_ref }}` or `${{ inputs.* }}` inside `run:` (or a github-script `script:`): the text is pasted into the shell before it runs. Pass it through `env:`.',
    check: (w) => {
      const out: string[] = [];
      for (const [id, job] of jobs(w.wf))
        for (const s of steps(job)) {
          const code = [s.run ?? '', action(s.uses) === 'actions/github-script' ? String(s.with?.script ?? '') : ''];
          for (const e of code.flatMap(expressions))
            if (UNTRUSTED_TEXT.test(e)) out.push(`${label(w, id, job, s)}: \${{${e}}} inside the script; use env`);
        }
      return out;
    },
  },
  {
    id: 'job-timeout',
    description: 'Every job sets `timeout-minutes` (the default is 6 hours, on a runner that may be a GPU machine).',
    check: (w) =>
      jobs(w.wf)
        .filter(([, job]) => job.uses === undefined && job['timeout-minutes'] === undefined)
        .map(([id]) => `${w.file} ${id}: no timeout-minutes`),
  },
  {
    id: 'self-hosted-unreachable-from-forks',
    description:
      'A job that may run on a self-hosted (GPU) runner — literal labels, labels resolved from a literal matrix, or any `runs-on` expression or runner group — is never started by pull_request* events (fork code), and under other untrusted events only after an `authorize` job.',
    check: (w) => {
      const out: string[] = [];
      for (const [id, job] of jobs(w.wf)) {
        const why = possiblySelfHosted(job);
        if (!why) continue;
        const fork = triggers(w.wf).filter((t) => FORK_CODE_EVENTS.includes(t));
        if (fork.length > 0) out.push(`${w.file} ${id}: ${why} may be self-hosted and runs on ${fork.join(', ')}`);
        else if (hasAny(w.wf, UNTRUSTED_EVENTS) && !behindAuthorization(w.wf, id))
          out.push(`${w.file} ${id}: ${why} may be self-hosted and is not behind an authorize job`);
      }
      return out;
    },
  },
  {
    id: 'privileged-checkout-no-credentials',
    description:
      'In a job whose token can write (or mint an OIDC token), every actions/checkout sets `persist-credentials: false`: later steps must not find the token in .git/config.',
    check: (w) =>
      jobs(w.wf)
        .filter(([, job]) => privileged(w.wf, job))
        .flatMap(([id, job]) =>
          steps(job)
            .filter((s) => isCheckout(s) && !isFalse(s.with?.['persist-credentials']))
            .map((s) => `${label(w, id, job, s)}: checkout keeps the token (persist-credentials: false)`),
        ),
  },
  {
    id: 'privileged-no-cache',
    description:
      'A job whose token can write (or mint an OIDC token) restores no cache (`cache:` on actions/setup-*, actions/cache): a cache written by another run could poison it.',
    check: (w) =>
      jobs(w.wf)
        .filter(([, job]) => privileged(w.wf, job))
        .flatMap(([id, job]) =>
          steps(job)
            .filter(
              (s) =>
                action(s.uses).startsWith('actions/cache') ||
                (action(s.uses).startsWith('actions/setup-') && s.with?.cache !== undefined && s.with.cache !== ''),
            )
            .map((s) => `${label(w, id, job, s)}: restores a cache in a privileged job`),
        ),
  },
  {
    id: 'privileged-npm-ignore-scripts',
    description:
      'In a job whose token can write (or mint an OIDC token), `npm ci`/`npm install` runs with `--ignore-scripts`: no dependency runs an install script next to the token; needed builds run as explicit steps.',
    check: (w) =>
      jobs(w.wf)
        .filter(([, job]) => privileged(w.wf, job))
        .flatMap(([id, job]) =>
          steps(job).flatMap((s) =>
            (s.run ?? '')
              .split('\n')
              .filter((l) => /\b(npm|pnpm|yarn)\s+(ci|install|i|add)\b/.test(l) && !l.includes('--ignore-scripts'))
              .map((l) => `${label(w, id, job, s)}: "${l.trim()}" without --ignore-scripts`),
          ),
        ),
  },
  {
    id: 'publish-converges-on-main',
    description:
      'Publishers, and every workflow sharing their concurrency group, converge on the head of main whatever GitHub cancels: a fixed group, cancel-in-progress not true, and each publishes the head of main (checkout ref main, fetch-depth 0, actions/publish-manifest with commit: HEAD), never the triggering commit, because joining a group cancels the run pending in it.',
    check: (w, all) => {
      const group = concurrencyGroup(w.wf.concurrency);
      const sharing =
        group !== undefined && all.some((o) => o !== w && publishes(o) && concurrencyGroup(o.wf.concurrency) === group);
      if (!publishes(w) && !sharing) return [];
      const out: string[] = [];
      if (!group || hasExpression(group)) out.push(`${w.file}: a publisher needs one fixed workflow concurrency group`);
      if (cancels(w.wf.concurrency)) out.push(`${w.file}: cancel-in-progress would stop a publish half-way`);
      const publishSteps = jobs(w.wf).flatMap(([id, job]) =>
        steps(job).flatMap((s, i) => (isPublishStep(s) ? [{ id, job, s, i }] : [])),
      );
      if (publishSteps.length === 0)
        out.push(
          `${w.file}: shares concurrency group ${group} with a publisher but never publishes: a publish it cancels while pending is lost`,
        );
      for (const job of jobs(w.wf).flatMap(([id, j]) =>
        steps(j).some((s) => /\bmodel-gitops(\.js)?\s+publish\b/.test(s.run ?? '')) ? [id] : [],
      ))
        out.push(`${w.file} ${job}: publish through actions/publish-manifest (commit: HEAD of main), not the CLI`);
      for (const { id, job, s, i } of publishSteps) {
        if (String(s.with?.commit ?? '').trim() !== 'HEAD')
          out.push(`${label(w, id, job, s)}: publishes the triggering commit; set commit: HEAD (the checked-out main)`);
        const checkout = steps(job)
          .slice(0, i)
          .filter((c) => isCheckout(c) && norm(c.with?.path) === norm(s.with?.repo))
          .pop();
        if (!checkout || !MAIN.includes(String(checkout.with?.ref ?? '')))
          out.push(`${label(w, id, job, s)}: the checkout it publishes is not ref: refs/heads/main`);
        else if (String(checkout.with?.['fetch-depth'] ?? '1') !== '0')
          out.push(`${label(w, id, job, s)}: the checkout needs fetch-depth: 0 (the publisher compares commits)`);
      }
      return out;
    },
  },
  {
    id: 'untrusted-events-concurrency',
    description:
      'A workflow started by untrusted events (comments, labels, a fork push) has no workflow-level concurrency, and job-level concurrency only behind an `authorize` job: a group is joined before any `if:` runs, so otherwise any comment cancels a running (or queued) job.',
    check: (w) => {
      if (!hasAny(w.wf, UNTRUSTED_EVENTS)) return [];
      const out: string[] = [];
      if (w.wf.concurrency !== undefined)
        out.push(`${w.file}: workflow-level concurrency: every ${triggers(w.wf).join('/')} event joins its group`);
      for (const [id, job] of jobs(w.wf))
        if (job.concurrency !== undefined && !behindAuthorization(w.wf, id))
          out.push(`${w.file} ${id}: job concurrency not behind an authorize job`);
      return out;
    },
  },
  {
    id: 'pr-gates-run-base-toolkit',
    description:
      'In pull-request workflows, a local action (`uses: ./…`) runs from a checkout of the base commit in its own folder, never from the pull request: a pull request could edit actions/*/dist and pass its own gate.',
    check: (w) => {
      if (!hasAny(w.wf, ['pull_request', 'pull_request_target'])) return [];
      const prCode = hasAny(w.wf, ['pull_request']);
      const out: string[] = [];
      for (const [id, job] of jobs(w.wf))
        steps(job).forEach((s, i) => {
          if (!(s.uses ?? '').startsWith('./')) return;
          const local = norm(s.uses);
          const from = steps(job)
            .slice(0, i)
            .filter((c) => isCheckout(c) && norm(c.with?.path) !== '' && local.startsWith(`${norm(c.with?.path)}/`))
            .pop();
          const ref = from?.with?.ref;
          const base = from !== undefined && (ref === undefined ? !prCode : hasExpression(ref) && trustedRef(ref));
          if (!base) out.push(`${label(w, id, job, s)}: runs ${s.uses} from the pull request's checkout`);
        });
      return out;
    },
  },
  {
    id: 'pull-requests-opened-by-app',
    description:
      'A pull request a workflow opens (gh pr create) uses a GitHub App token (actions/create-github-app-token): GitHub starts no workflows for one opened with GITHUB_TOKEN, so its required checks would never report.',
    check: (w) => {
      const out: string[] = [];
      for (const [id, job] of jobs(w.wf)) {
        const apps = steps(job)
          .filter((s) => action(s.uses) === 'actions/create-github-app-token' && s.id)
          .map((s) => s.id!);
        for (const s of steps(job)) {
          if (!/\bgh\s+pr\s+create\b/.test(s.run ?? '')) continue;
          const token = String(s.env?.GH_TOKEN ?? s.env?.GITHUB_TOKEN ?? '');
          if (!apps.some((a) => token.includes(`steps.${a}.outputs.token`)))
            out.push(
              `${label(w, id, job, s)}: opens a pull request with ${token || 'no token'}, not a GitHub App token`,
            );
        }
      }
      return out;
    },
  },
];

// ---------------------------------------------------------------------------------------------- tests

const dir = join(ROOT, '.github', 'workflows');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
  .sort();
const real = files.map((f) => load(f, readFileSync(join(dir, f), 'utf8')));

const fixtureDir = join(ROOT, 'test', 'fixtures', 'workflows');
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => {
    const text = readFileSync(join(fixtureDir, f), 'utf8');
    const header = /^# flags: (.+)$/m.exec(text.split('\n')[0] ?? '');
    const expected = header ? header[1]!.split(',').map((s) => s.trim()) : [f.split('.')[0]!];
    return { fixture: load(f, text), expected: expected.sort() };
  });

describe('GitHub workflows', () => {
  it('exist: pull-request, publish, resign, rollback, benchmark', () => {
    expect(files).toEqual(
      expect.arrayContaining(['benchmark.yml', 'publish.yml', 'pull-request.yml', 'resign.yml', 'rollback.yml']),
    );
  });

  it('rule ids are unique and each has a description', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) expect(r.description.length, r.id).toBeGreaterThan(40);
  });

  describe.each(RULES.map((r) => [r.id, r] as const))('rule %s', (_id, rule) => {
    it.each(files)('%s passes', (file) => {
      expect(rule.check(real.find((w) => w.file === file)!, real)).toEqual([]);
    });

    it('flags at least one bad workflow fixture', () => {
      expect(fixtures.filter((f) => f.expected.includes(rule.id)).map((f) => f.fixture.file)).not.toEqual([]);
    });
  });

  it.each(fixtures.map((f) => [f.fixture.file, f] as const))(
    'fixture %s is flagged by exactly the rules it breaks',
    (_file, { fixture, expected }) => {
      for (const id of expected)
        expect(
          RULES.map((r) => r.id),
          `unknown rule ${id}`,
        ).toContain(id);
      // Checked alongside the real workflows: a fixture can join their concurrency groups.
      const all = [fixture, ...real];
      const flagged = RULES.filter((r) => r.check(fixture, all).length > 0).map((r) => r.id);
      expect(flagged.sort()).toEqual(expected);
    },
  );

  it('the required checks keep their names (branch protection requires them by job name)', () => {
    const pr = real.find((w) => w.file === 'pull-request.yml')!.wf;
    expect(pr.name).toBe('pull-request');
    expect(Object.values(pr.jobs).map((j) => j.name)).toEqual([
      'Validate model cards',
      'Semver, immutability and promotion against the base branch',
      'Toolkit tests',
    ]);
  });
});

describe('CODEOWNERS', () => {
  const file = join(ROOT, '.github', 'CODEOWNERS');
  // Paths whose change alters what gates, signs or publishes the registry.
  const toolkit = [
    '/src/',
    '/actions/',
    '/schemas/',
    '/scripts/',
    '/benchmarks/',
    '/bin/',
    '/.github/',
    '/.ci/',
    '/package.json',
    '/package-lock.json',
    '/trust/',
  ];

  it('names an owner for every toolkit path, and says to replace the placeholder team', () => {
    expect(existsSync(file), '.github/CODEOWNERS').toBe(true);
    const text = readFileSync(file, 'utf8');
    const entries = new Map(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => l.split(/\s+/))
        .map(([path, ...owners]) => [path!, owners] as const),
    );
    for (const path of toolkit) {
      const owners = entries.get(path) ?? [];
      expect(owners.length, `${path} has an owner`).toBeGreaterThan(0);
      for (const o of owners) expect(o).toMatch(/^@[\w.-]+(\/[\w.-]+)?$|^[^@\s]+@[^@\s]+$/);
    }
    expect(text).toMatch(/REPLACE @ORG\/model-gitops-maintainers/);
  });
});

describe('action metadata', () => {
  const actions = readdirSync(join(ROOT, 'actions')).filter((n) => n !== 'shared');
  it.each(actions)('actions/%s/action.yml runs its committed bundle on node24', (name) => {
    const meta = parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as {
      name: string;
      description: string;
      runs: { using: string; main: string };
      inputs?: Record<string, { description?: string }>;
    };
    expect(meta.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(meta.description.length).toBeGreaterThan(20);
    for (const [input, spec] of Object.entries(meta.inputs ?? {}))
      expect(spec.description, `${name} input ${input}`).toBeTruthy();
    expect(readFileSync(join(ROOT, 'actions', name, 'dist', 'index.js')).length).toBeGreaterThan(1000);
  });
});
