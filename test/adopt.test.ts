// README "Adopt this template", end to end: a team's repository made from the template with the example
// registry deleted (an empty git repository on main), then exactly the steps of "Start your registry" and
// "How a new model reaches production: one pull request per stage", with the real CLI in child processes
// and real git. A pull request is green when what its two required checks run passes: `validate`
// (validate-cards) and `check --base main` (check-semver). Merging is a merge commit on main, after which
// the publish workflow's step (`publish` to the team's store) runs and a device's view of the signed
// manifest is read back. The template's own models/ and environments/ are never read.
//
// Where the README is not enough on its own, the test follows the corrected step and says so:
// - `push` must go to the team's store (the one publish.yml publishes from), not the default
//   <repo>/.model-gitops/store: the last test shows both checks pass and the merge's publication fails
//   when the weights are only on the author's machine.
// - the draft's TODO placeholders are the interface AND, for a folder without a config.json `model_type`,
//   architecture.family.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadModelDir, modelConfig, TOKENIZER_JSON } from '../src/demo-model/model.ts';
import { writeSafetensors } from '../src/demo-model/f32-tensors.ts';
import { sha256Hex } from '../src/lib/hash.ts';
import { mulberry32 } from '../src/lib/prng.ts';
import { runCli, tempDir } from './helpers.ts';

const MODEL = 'intent-router';
const OWNER = '@acme/ml-platform';
const LABELS = ['billing', 'shipping', 'cancel', 'other'];
const CODE_COMMIT = '3f2a9c1e5b7d4a6f8e0c2b4d6a8f0e1c3b5d7a9f';
const CARD = `models/${MODEL}/versions/0.1.0.yaml`;

// ---- the team's machine: a git repository, a store, and the CLI run from the repository root ----

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Ada Platform',
  GIT_AUTHOR_EMAIL: 'ada@acme.example',
  GIT_COMMITTER_NAME: 'Ada Platform',
  GIT_COMMITTER_EMAIL: 'ada@acme.example',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], {
    cwd,
    env: { ...process.env, ...GIT_ENV },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (the command was given --json). */
  json: () => any;
}

/** `model-gitops ARGS` in `cwd` (the repository root, as a person runs it), with no store from the environment. */
function mg(cwd: string, ...args: string[]): Run {
  const r = runCli(args, { cwd, env: { MODEL_GITOPS_STORE: '' } });
  return {
    ...r,
    json: () => {
      try {
        return JSON.parse(r.stdout);
      } catch {
        throw new Error(`model-gitops ${args.join(' ')} printed no JSON (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
      }
    },
  };
}

/** Expect exit `code`, showing what the command printed when it is not. */
function expectExit(r: Run, code: number): void {
  expect(r.status, `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(code);
}

function read(repo: string, path: string): string {
  return readFileSync(join(repo, path), 'utf8');
}

/** A person's edit of one file: the change must change something. */
function edit(repo: string, path: string, change: (text: string) => string): void {
  const before = read(repo, path);
  const after = change(before);
  if (after === before) throw new Error(`edit of ${path} changed nothing`);
  writeFileSync(join(repo, path), after);
}

/** Deploy `intent-router: 0.1.0` to an environment that init left as `models: {}` (one line, as in the README). */
function deploy(repo: string, env: string): void {
  edit(repo, `environments/${env}.yaml`, (t) => t.replace(/^models: \{\}$/m, `models:\n  ${MODEL}: 0.1.0`));
}

/** A pull request: a branch off main, edited by `change`, committed. */
function openPullRequest(repo: string, branch: string, message: string, change: () => void): void {
  git(repo, 'checkout', '-q', '-b', branch, 'main');
  change();
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
}

/** What a green pull request means: both required checks pass on its head. */
function expectGreen(repo: string): { validate: any; check: any } {
  const v = mg(repo, 'validate', '--json');
  expectExit(v, 0);
  const c = mg(repo, 'check', '--base', 'main', '--json');
  expectExit(c, 0);
  const validate = v.json();
  const check = c.json();
  expect(validate).toMatchObject({ valid: true, errors: 0 });
  expect(check).toMatchObject({ ok: true, errors: 0, baseProblems: 0, diagnostics: [] });
  return { validate, check };
}

/** GitHub's "Create a merge commit", then the publish workflow on the new head of main. */
function mergeAndPublish(repo: string, branch: string, number: number, ctx: Ctx): any {
  git(repo, 'checkout', '-q', 'main');
  git(repo, 'merge', '-q', '--no-ff', '-m', `Merge pull request #${number} from acme/${branch}`, branch);
  expect(git(repo, 'status', '--porcelain')).toBe('');
  expectExit(mg(repo, 'validate'), 0);
  const p = mg(repo, 'publish', '--store', ctx.store, '--keys-dir', ctx.keys, '--source-repo', 'acme/models', '--json');
  expectExit(p, 0);
  const published = p.json();
  expect(published.status).toBe('published');
  expect(published.source).toEqual({ repository: 'acme/models', commit: git(repo, 'rev-parse', 'HEAD') });
  return published;
}

/** What a device of `env` sees: the signed slice, verified against the pinned trust root. */
function deviceView(ctx: Ctx, env: string): Record<string, string> {
  const r = mg(ctx.repo, 'manifest', 'verify', ctx.store, '--trust', 'trust/root.json', '--environment', env, '--json');
  expectExit(r, 0);
  const v = r.json();
  expect(v.ok).toBe(true);
  return v.environments[env];
}

/** A tiny but real model folder: the demo bag-of-bytes classifier's layout, seeded random weights. */
function writeWeights(dir: string, options: { config?: boolean; seed?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const rng = mulberry32(options.seed ?? 7);
  const tensor = (shape: [number, number]) => {
    const data = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < data.length; i++) data[i] = (rng() - 0.5) * 0.2;
    return data;
  };
  const hidden = 8;
  writeFileSync(
    join(dir, 'model.safetensors'),
    writeSafetensors([
      { name: 'embed.weight', shape: [256, hidden], data: tensor([256, hidden]) },
      { name: 'hidden.weight', shape: [hidden, hidden], data: tensor([hidden, hidden]) },
      { name: 'head.weight', shape: [LABELS.length, hidden], data: tensor([LABELS.length, hidden]) },
    ]),
  );
  if (options.config !== false) {
    writeFileSync(
      join(dir, 'config.json'),
      `${JSON.stringify(modelConfig({ vocab: 256, hidden, labels: LABELS }), null, 2)}\n`,
    );
    writeFileSync(join(dir, 'tokenizer.json'), TOKENIZER_JSON);
  }
}

const PUSH_FLAGS = [
  '--model',
  MODEL,
  '--version',
  '0.1.0',
  '--summary',
  'First version: routes customer messages to billing, shipping, cancel or other.',
  '--code-repo',
  'acme/slm-training',
  '--code-commit',
  CODE_COMMIT,
  '--draft',
];

const TODO_LINE = /^( *)([A-Za-z_][\w-]*): null # TODO\(model-gitops push\): .*$/;

/** The TODO placeholders of a draft card, by dotted path (found the way a person does: by reading it). */
function placeholders(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    const m = TODO_LINE.exec(line);
    if (!m) return;
    const path = [m[2]!];
    let indent = m[1]!.length;
    for (let j = i - 1; j >= 0 && indent > 0; j--) {
      const parent = /^( *)([A-Za-z_][\w-]*):\s*$/.exec(lines[j]!);
      if (parent && parent[1]!.length < indent) {
        path.unshift(parent[2]!);
        indent = parent[1]!.length;
      }
    }
    out.push(path.join('.'));
  });
  return out;
}

/**
 * Replace each TODO placeholder line with a value (flow YAML), keyed by dotted path, and add lines after
 * a key (`after`): what a person does in their editor. Every placeholder must be given a value.
 */
function fillPlaceholders(text: string, values: Record<string, string>, after: Record<string, string> = {}): string {
  const lines = text.split('\n');
  const paths = placeholders(text);
  expect(Object.keys(values).sort()).toEqual([...paths].sort());
  let k = 0;
  const out: string[] = [];
  for (const line of lines) {
    const m = TODO_LINE.exec(line);
    if (m) {
      const path = paths[k++]!;
      out.push(`${m[1]}${m[2]}: ${values[path]}`);
      const extra = after[path];
      if (extra !== undefined) out.push(`${m[1]}${extra}`);
    } else out.push(line);
  }
  return out.join('\n');
}

// ---- the walk-through ----

interface Ctx {
  repo: string;
  /** The team's store (what publish.yml's MODEL_GITOPS_STORE names), a local folder here. */
  store: string;
  /** The online signing keys (CI secrets in the real setup): outside the repository. */
  keys: string;
  weights: string;
  /** main after the first merge (init + new) and after pull request 1. */
  start: string;
  afterPr1: string;
  tokenizerSha256: string;
}

describe('README "Adopt this template": from an empty registry to production, one pull request per stage', () => {
  const ctx = {} as Ctx;

  beforeAll(() => {
    ctx.repo = tempDir('mg-adopt-repo-');
    ctx.store = tempDir('mg-adopt-store-');
    ctx.keys = join(tempDir('mg-adopt-keys-'), 'keys');
    ctx.weights = join(tempDir('mg-adopt-weights-'), 'intent-router');
    // The repository "Use this template" made, after `git rm -r -q models environments`: no registry at all.
    git(ctx.repo, 'init', '-q', '-b', 'main');
    writeWeights(ctx.weights);
    ctx.tokenizerSha256 = sha256Hex(readFileSync(join(ctx.weights, 'tokenizer.json')));
  });

  it('Start your registry: init, new and validate on an empty repository, committed on main', () => {
    const { repo } = ctx;
    const init = mg(repo, 'init', '--json');
    expectExit(init, 0);
    expect(init.json()).toEqual({
      written: [
        'environments/dev.yaml',
        'environments/staging.yaml',
        'environments/production.yaml',
        'models/.gitkeep',
        '.gitignore',
      ],
      skipped: [],
      next: expect.stringContaining('model-gitops new MODEL --owner'),
    });
    // Each environment: the $schema line, a description, models: {} and requires: the previous one.
    const envs = Object.fromEntries(
      ['dev', 'staging', 'production'].map((e) => [e, read(repo, `environments/${e}.yaml`)]),
    );
    for (const text of Object.values(envs)) {
      expect(text).toMatch(/^# yaml-language-server: \$schema=\.\.\/schemas\/environment\.schema\.json\n/);
      expect(parse(text)).toMatchObject({ description: expect.any(String), models: {} });
    }
    expect(parse(envs.dev!).requires).toBeUndefined();
    expect(parse(envs.staging!).requires).toBe('dev');
    expect(parse(envs.production!).requires).toBe('staging');
    expect(read(repo, '.gitignore').split('\n')).toContain('/.model-gitops/');

    const created = mg(
      repo,
      'new',
      MODEL,
      '--owner',
      OWNER,
      '--task',
      'text-classification',
      '--description',
      'Routes each customer message to an intent.',
      '--json',
    );
    expectExit(created, 0);
    expect(created.json()).toEqual({
      written: [`models/${MODEL}/model.yaml`, `models/${MODEL}/versions/.gitkeep`],
      skipped: [],
      next: expect.stringContaining(`model-gitops push ./weights --model ${MODEL} --version 0.1.0`),
    });
    const model = read(repo, `models/${MODEL}/model.yaml`);
    expect(parse(model)).toEqual({
      name: MODEL,
      owners: [OWNER],
      task: 'text-classification',
      description: 'Routes each customer message to an intent.',
    });
    expect(model).toMatch(/^# benchmark:$/m); // the commented-out recipe

    // Run again, init writes only what is missing and keeps the rest; `.gitignore` gets its line once.
    const again = mg(repo, 'init', '--json');
    expectExit(again, 0);
    expect(again.json().written).toEqual([]);
    expect(read(repo, '.gitignore').match(/\/\.model-gitops\//g)).toHaveLength(1);

    // "valid  1 models, 0 versions, 3 environments"
    const v = mg(repo, 'validate', '--json');
    expectExit(v, 0);
    expect(v.json()).toMatchObject({
      valid: true,
      errors: 0,
      warnings: 0,
      counts: { models: 1, versions: 0, environments: 3 },
    });
    expect(mg(repo, 'validate').stdout).toMatch(/^valid {2}1 models, 0 versions, 3 environments/);

    // Publishing (README "The signed manifest"): keys once, on a trusted machine; trust/root.json is committed.
    const keys = mg(repo, 'keys', 'init', '--store', ctx.store, '--keys-dir', ctx.keys, '--json');
    expectExit(keys, 0);
    expect(keys.json().trustRoot).toBe('trust/root.json');

    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'Start the registry: environments and intent-router');
    expect(git(repo, 'status', '--porcelain')).toBe(''); // nothing of .model-gitops/ is left to commit
    ctx.start = git(repo, 'rev-parse', 'HEAD');
  });

  it('pull request 1, "Add the model": push --draft, fill in the TODOs, deploy to dev; green, merged, published', () => {
    const { repo } = ctx;
    // The weights load in the builtin engine: a real model, not just bytes.
    expect(loadModelDir(ctx.weights).labels).toEqual(LABELS);

    git(repo, 'checkout', '-q', '-b', 'add-intent-router', 'main');
    const push = mg(repo, 'push', ctx.weights, ...PUSH_FLAGS, '--store', ctx.store, '--json');
    expectExit(push, 0);
    const pushed = push.json();
    expect(pushed.card).toMatchObject({ path: CARD, status: 'created', written: true, draft: true });
    expect(pushed.card.placeholders).toEqual(['interface']); // config.json names the family (mlp)
    expect(pushed.valid).toBe(false);
    expect(pushed.files.map((f: { path: string; deduplicated: boolean }) => [f.path, f.deduplicated])).toEqual([
      ['config.json', false],
      ['model.safetensors', false],
      ['tokenizer.json', false],
    ]);
    expect(pushed.totals.sentBytes).toBe(pushed.totals.bytes);
    for (const f of pushed.files as { path: string; sha256: string }[])
      expect(f.sha256).toBe(sha256Hex(readFileSync(join(ctx.weights, f.path))));

    // The draft as written: the weight-derived fields are filled in, the interface is TODO.
    const draft = read(repo, CARD);
    expect(placeholders(draft)).toEqual(['interface.inputs', 'interface.outputs']);
    expect(parse(draft)).toMatchObject({
      name: MODEL,
      version: '0.1.0',
      architecture: {
        family: 'mlp',
        parameters: 256 * 8 + 8 * 8 + LABELS.length * 8,
        format: 'safetensors',
        dtype: 'f32',
      },
      lineage: { code: { repository: 'acme/slm-training', commit: CODE_COMMIT } },
    });

    // Negative: the draft fails both checks until the placeholders are filled.
    const unfilled = mg(repo, 'validate', '--json');
    expectExit(unfilled, 1);
    const u = unfilled.json();
    expect(u.valid).toBe(false);
    expect(u.diagnostics.map((d: { file: string; field: string; rule: string }) => [d.file, d.field, d.rule])).toEqual([
      [CARD, 'interface.inputs', 'schema'],
      [CARD, 'interface.outputs', 'schema'],
    ]);
    expectExit(mg(repo, 'check', '--base', 'main', '--json'), 1);

    // "fill in the interface, then validate": inputs and outputs, plus the tokenizer the model was trained with.
    edit(repo, CARD, (t) =>
      fillPlaceholders(
        t,
        {
          'interface.inputs': '[{name: text, dtype: string, shape: [batch]}]',
          'interface.outputs': `[{name: label, dtype: string, shape: [batch], labels: [${LABELS.join(', ')}]}]`,
        },
        { 'interface.outputs': `tokenizer: {name: byte-tokenizer, sha256: ${ctx.tokenizerSha256}}` },
      ),
    );
    const card = read(repo, CARD);
    expect(card).not.toContain('TODO');
    expect(parse(card).interface).toEqual({
      inputs: [{ name: 'text', dtype: 'string', shape: ['batch'] }],
      outputs: [{ name: 'label', dtype: 'string', shape: ['batch'], labels: LABELS }],
      tokenizer: { name: 'byte-tokenizer', sha256: ctx.tokenizerSha256 },
    });
    deploy(repo, 'dev');
    expect(parse(read(repo, 'environments/dev.yaml')).models).toEqual({ [MODEL]: '0.1.0' });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'Add intent-router 0.1.0 and deploy it to dev');
    expect(git(repo, 'diff', '--name-only', 'main...HEAD').split('\n')).toEqual(['environments/dev.yaml', CARD]);

    // Green: both checks, and the weights are in the team's store (recorded sha256, and the bytes rehashed).
    const { validate, check } = expectGreen(repo);
    expect(validate.counts).toMatchObject({ models: 1, versions: 1, environments: 3 });
    expect(check.changes.map((c: { kind: string; description: string }) => [c.kind, c.description])).toEqual([
      ['version-added', 'intent-router 0.1.0 added'],
      ['deployment-added', 'intent-router in dev: added at 0.1.0'],
    ]);
    expect(check.semver).toEqual([
      expect.objectContaining({ model: MODEL, version: '0.1.0', previous: null, ok: true }),
    ]);
    const verify = mg(repo, 'verify', '--store', ctx.store, '--rehash', '--json');
    expectExit(verify, 0);
    expect(verify.json()).toMatchObject({ ok: true, rehash: true, cards: 1, artifacts: 3, problems: [] });

    // Merged: the publication puts the version in dev's signed slice, and nowhere else yet.
    const published = mergeAndPublish(repo, 'add-intent-router', 1, ctx);
    expect(published.sequence).toBe(1);
    expect(deviceView(ctx, 'dev')).toEqual({ [MODEL]: '0.1.0' });
    expect(deviceView(ctx, 'staging')).toEqual({});
    expect(deviceView(ctx, 'production')).toEqual({});
    ctx.afterPr1 = git(repo, 'rev-parse', 'main');
  });

  it('the gate is real: skipping staging, or two stages in one pull request, is refused (promotion-skipped-stage)', () => {
    const { repo } = ctx;
    // Straight to production off main after pull request 1.
    openPullRequest(repo, 'skip-staging', 'intent-router 0.1.0 to production', () => deploy(repo, 'production'));
    expectExit(mg(repo, 'validate'), 0); // a well-formed registry: only the comparison with main refuses it
    const skip = mg(repo, 'check', '--base', 'main', '--json');
    expectExit(skip, 1);
    const s = skip.json();
    expect(s).toMatchObject({ ok: false, errors: 1 });
    expect(s.changes.map((c: { kind: string; environment: string }) => [c.kind, c.environment])).toEqual([
      ['deployment-added', 'production'],
    ]);
    expect(s.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        rule: 'promotion-skipped-stage',
        file: 'environments/production.yaml',
        field: `models.${MODEL}`,
        message: expect.stringContaining('production requires staging'),
      }),
    ]);

    // Staging and production together: staging would be fine, production still was not in staging on main.
    git(repo, 'checkout', '-q', '-b', 'two-stages', 'main');
    deploy(repo, 'staging');
    deploy(repo, 'production');
    const both = mg(repo, 'check', '--base', 'main', '--json');
    expectExit(both, 1);
    expect(both.json().diagnostics.map((d: { rule: string; file: string }) => [d.rule, d.file])).toEqual([
      ['promotion-skipped-stage', 'environments/production.yaml'],
    ]);
    git(repo, 'checkout', '-q', '-f', 'main');
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(git(repo, 'rev-parse', 'main')).toBe(ctx.afterPr1);
  });

  it('pull request 2, "Promote to staging": one line; green because dev held 0.1.0 on main; merged, published', () => {
    const { repo } = ctx;
    openPullRequest(repo, 'promote-staging', 'Promote intent-router 0.1.0 to staging', () => deploy(repo, 'staging'));
    expect(git(repo, 'diff', '--numstat', 'main...HEAD')).toBe('2\t1\tenvironments/staging.yaml');
    const { check } = expectGreen(repo);
    expect(check.changes).toEqual([
      expect.objectContaining({ kind: 'deployment-added', environment: 'staging', model: MODEL, to: '0.1.0' }),
    ]);
    expect(check.semver).toEqual([]);
    const published = mergeAndPublish(repo, 'promote-staging', 2, ctx);
    expect(published.sequence).toBe(2);
    expect(deviceView(ctx, 'staging')).toEqual({ [MODEL]: '0.1.0' });
    expect(deviceView(ctx, 'production')).toEqual({});
  });

  it('pull request 3, "Promote to production": the same line; green; merged, published to production devices', () => {
    const { repo } = ctx;
    openPullRequest(repo, 'promote-production', 'Promote intent-router 0.1.0 to production', () =>
      deploy(repo, 'production'),
    );
    expect(git(repo, 'diff', '--numstat', 'main...HEAD')).toBe('2\t1\tenvironments/production.yaml');
    const { check } = expectGreen(repo);
    expect(check.changes).toEqual([
      expect.objectContaining({ kind: 'deployment-added', environment: 'production', model: MODEL, to: '0.1.0' }),
    ]);

    // "With an evidence store, a version entering production also needs a passing benchmark report":
    // for a model made by `new`, whose benchmark recipe is still commented out, that is a refusal.
    const evidence = mg(repo, 'check', '--base', 'main', '--evidence', ctx.store, '--json');
    expectExit(evidence, 1);
    expect(evidence.json().diagnostics).toEqual([
      expect.objectContaining({
        rule: 'production-benchmark',
        file: 'environments/production.yaml',
        message: expect.stringContaining('has no benchmark recipe'),
      }),
    ]);

    const published = mergeAndPublish(repo, 'promote-production', 3, ctx);
    expect(published.sequence).toBe(3);
    for (const env of ['dev', 'staging', 'production']) expect(deviceView(ctx, env)).toEqual({ [MODEL]: '0.1.0' });

    // Every promotion has its own publication, from its own merge commit.
    const history = mg(repo, 'history', '--store', ctx.store, '--json');
    expectExit(history, 0);
    const entries = history.json().entries as { sequence: number; source: { commit: string } }[];
    expect(entries.map((e) => e.sequence).sort()).toEqual([1, 2, 3]);
    const merges = git(repo, 'log', '--merges', '--format=%H', 'main').split('\n');
    expect(new Set(entries.map((e) => e.source.commit))).toEqual(new Set(merges));
    expect(git(repo, 'log', '--merges', '--format=%s', 'main').split('\n')).toEqual([
      'Merge pull request #3 from acme/promote-production',
      'Merge pull request #2 from acme/promote-staging',
      'Merge pull request #1 from acme/add-intent-router',
    ]);
  });

  it('a draft from a folder without config.json also leaves architecture.family TODO, and fails validate', () => {
    const repo = join(tempDir('mg-adopt-wt-'), 'wt');
    git(ctx.repo, 'worktree', 'add', '-q', '-b', 'bare-weights', repo, ctx.start);
    const weights = join(tempDir('mg-adopt-bare-'), 'w');
    writeWeights(weights, { config: false });
    const push = mg(repo, 'push', weights, ...PUSH_FLAGS, '--store', tempDir('mg-adopt-store2-'), '--json');
    expectExit(push, 0);
    expect(push.json().card).toMatchObject({ draft: true, placeholders: ['interface', 'architecture.family'] });
    expect(placeholders(read(repo, CARD))).toEqual(['interface.inputs', 'interface.outputs', 'architecture.family']);
    const v = mg(repo, 'validate', '--json');
    expectExit(v, 1);
    expect(v.json().diagnostics.map((d: { field: string }) => d.field)).toEqual([
      'interface.inputs',
      'interface.outputs',
      'architecture.family',
    ]);
  });

  it('README gap: weights pushed to the default local store pass both checks, and the merge cannot publish', () => {
    // The README's push line has no --store: the blobs go to <repo>/.model-gitops/store on the author's
    // machine. Nothing in the pull request's checks looks at a store; publish.yml's store refuses the merge.
    const repo = join(tempDir('mg-adopt-wt-'), 'wt');
    git(ctx.repo, 'worktree', 'add', '-q', '-b', 'local-store', repo, ctx.start);
    const teamStore = tempDir('mg-adopt-team-');
    const keys = join(tempDir('mg-adopt-keys2-'), 'keys');
    // Its own store and keys, set up elsewhere (this repository's trust/root.json is the main story's).
    expectExit(mg(tempDir('mg-adopt-trusted-'), 'keys', 'init', '--store', teamStore, '--keys-dir', keys, '--json'), 0);
    const push = mg(repo, 'push', ctx.weights, ...PUSH_FLAGS, '--json');
    expectExit(push, 0);
    expect(push.json().store).toBe(`file://${join(repo, '.model-gitops', 'store')}`);
    edit(repo, CARD, (t) =>
      fillPlaceholders(t, {
        'interface.inputs': '[{name: text, dtype: string}]',
        'interface.outputs': `[{name: label, dtype: string, labels: [${LABELS.join(', ')}]}]`,
      }),
    );
    deploy(repo, 'dev');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'Add intent-router 0.1.0 (weights in the local store)');
    expectExit(mg(repo, 'validate'), 0);
    expectExit(mg(repo, 'check', '--base', ctx.start), 0);
    const verify = mg(repo, 'verify', '--store', teamStore, '--json');
    expectExit(verify, 1);
    expect(verify.json().problems.map((p: { path: string; status: string }) => [p.path, p.status])).toEqual([
      ['config.json', 'missing'],
      ['model.safetensors', 'missing'],
      ['tokenizer.json', 'missing'],
    ]);
    const publish = mg(repo, 'publish', '--store', teamStore, '--keys-dir', keys, '--json');
    expectExit(publish, 1);
    expect(publish.stderr).toContain('3 referenced file(s) are missing');
  });
});
