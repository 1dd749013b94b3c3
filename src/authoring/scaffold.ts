// Scaffolding a registry: the files `model-gitops init` (environments with a promotion chain, models/,
// the .gitignore entry of the local workspace) and `model-gitops new MODEL` (a model card with a
// commented benchmark recipe) write. Pure functions give each file's content, and every file they
// produce passes `validate` as it is; one small writer puts them on disk, keeping files that already
// exist unless forced.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { writeFileAtomicSync } from '../lib/fs-atomic.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import { ENVIRONMENT_NAME, MODEL_NAME } from '../registry/load.ts';
import { type SchemaName, validateAgainstSchema } from '../registry/schemas.ts';
import { parseYamlFile } from '../registry/yaml-file.ts';

export const DEFAULT_ENVIRONMENTS = ['dev', 'staging', 'production'] as const;
/** The local workspace (store, keys, caches): never committed. */
export const WORKSPACE_IGNORE = '/.model-gitops/';
/** What a new model card gets when --task is not given (it must have one to validate). */
export const DEFAULT_TASK = 'text-generation';

// The schema's rules for the fields a person gives (schemas/model.schema.json, common.schema.json).
const OWNER = /^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$/;
const TASK = /^[a-z][a-z0-9-]{0,63}$/;
const MAX_TEXT = 4000;

/** One file the scaffold would write. */
export interface PlannedFile {
  /** Repository-relative POSIX path. */
  path: string;
  content: string;
  /**
   * `create`: a new file; an existing one is kept unless forced. `update`: a file the scaffold edits
   * in place (the .gitignore entry), written whenever its content changes.
   */
  kind: 'create' | 'update';
}

export interface SkippedFile {
  path: string;
  /** `exists`: kept because it exists and differs (--force replaces it); `unchanged`: already as planned. */
  reason: 'exists' | 'unchanged';
}

export interface ScaffoldResult {
  written: string[];
  skipped: SkippedFile[];
}

// ---- environments ----------------------------------------------------------------------------------

/** `--environments dev,staging,production` as a list: valid names, no duplicates, at least one. */
export function parseEnvironmentNames(list: string): string[] {
  const names = list.split(',').map((n) => n.trim());
  if (names.every((n) => n === ''))
    throw new UserError('--environments needs at least one environment name, e.g. dev,staging,production');
  const seen = new Set<string>();
  for (const n of names) {
    if (n === '') throw new UserError(`--environments "${list}" has an empty name`);
    if (!ENVIRONMENT_NAME.test(n))
      throw new UserError(
        `--environments: "${n}" is not a valid environment name: lower-case letters, digits and hyphens, starting with a letter (at most 64 characters)`,
      );
    if (seen.has(n)) throw new UserError(`--environments names "${n}" twice`);
    seen.add(n);
  }
  return names;
}

/** environments/<name>.yaml, requiring `requires` (the previous stage) unless it is the first. */
export function environmentYaml(name: string, requires: string | undefined): string {
  const description =
    requires === undefined
      ? 'Every new version lands here first.'
      : `A version must be in ${requires} on main before it enters ${name}.`;
  return [
    '# yaml-language-server: $schema=../schemas/environment.schema.json',
    `description: ${description}`,
    ...(requires === undefined ? [] : [`requires: ${requires}`]),
    'models: {}',
    '# Which version of each model runs here, for example:',
    '# models:',
    '#   my-model: 1.0.0                         # short form: just the version',
    '#   other-model:',
    '#     version: 2.0.0                        # champion',
    '#     canary: {version: 2.1.0, weight: 5%}  # a challenger taking a share of traffic',
    '#     rollbackWindow: [1.4.0]               # instant rollback targets',
    '',
  ].join('\n');
}

const WORKSPACE_FORMS = new Set(['.model-gitops', '.model-gitops/', '/.model-gitops', '/.model-gitops/']);

/**
 * .gitignore with the local workspace ignored: `existing` unchanged when a line already ignores it,
 * else with the entry appended (never a duplicate line).
 */
export function gitignoreWithWorkspace(existing: string | undefined): string {
  const text = existing ?? '';
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => WORKSPACE_FORMS.has(l))) return text;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}# model-gitops local workspace (store, keys, caches): never committed\n${WORKSPACE_IGNORE}\n`;
}

export interface InitOptions {
  /** Environment names in promotion order; each requires the one before it. */
  environments: readonly string[];
}

/** What `init` writes into `repo`: one file per environment, models/.gitkeep if needed, .gitignore. */
export function planInit(repo: string, options: InitOptions): PlannedFile[] {
  const names = options.environments;
  if (names.length === 0) throw new UserError('at least one environment is needed');
  const files: PlannedFile[] = names.map((name, i) => ({
    path: `environments/${name}.yaml`,
    content: environmentYaml(name, i === 0 ? undefined : names[i - 1]),
    kind: 'create',
  }));
  if (folderIsEmpty(join(repo, 'models'))) files.push({ path: 'models/.gitkeep', content: '', kind: 'create' });
  files.push({
    path: '.gitignore',
    content: gitignoreWithWorkspace(readIfFile(join(repo, '.gitignore'))),
    kind: 'update',
  });
  for (const f of files) selfCheck(f);
  return files;
}

// ---- models ----------------------------------------------------------------------------------------

export interface NewModelOptions {
  name: string;
  /** GitHub users (@login) or teams (@org/team); the leading @ may be left out. */
  owners: readonly string[];
  task?: string;
  description?: string;
}

/** The options checked and completed: owners with their @, task and description defaulted. */
export interface ModelCardInputs {
  name: string;
  owners: string[];
  task: string;
  description: string;
  /** Fields that took a default, so the caller can say to edit them. */
  defaulted: ('task' | 'description')[];
}

/** Checks what a person gave `new`, naming the flag of anything the schema would refuse. */
export function modelCardInputs(o: NewModelOptions): ModelCardInputs {
  if (!MODEL_NAME.test(o.name))
    throw new UserError(
      `"${o.name}" is not a valid model name: lower-case letters, digits and single hyphens, starting with a letter (at most 64 characters)`,
    );
  if (o.owners.length === 0)
    throw new UserError('--owner is required: who reviews changes to this model, e.g. --owner @acme/ml-platform');
  const owners: string[] = [];
  for (const raw of o.owners) {
    const owner = raw.trim().startsWith('@') ? raw.trim() : `@${raw.trim()}`;
    if (!OWNER.test(owner))
      throw new UserError(
        `--owner "${raw}" must be a GitHub user (@login) or team (@org/team), the names pull request reviews are asked from`,
      );
    if (owners.includes(owner)) throw new UserError(`--owner "${owner}" is given twice`);
    owners.push(owner);
  }
  const defaulted: ModelCardInputs['defaulted'] = [];
  let task = o.task?.trim();
  if (task === undefined) {
    task = DEFAULT_TASK;
    defaulted.push('task');
  } else if (!TASK.test(task)) {
    throw new UserError(
      `--task "${o.task}" must be a lower-case kebab-case task name such as text-classification, token-classification or text-generation`,
    );
  }
  let description = o.description?.trim();
  if (description === undefined) {
    description = `${o.name}: what it is for and who calls it.`;
    defaulted.push('description');
  } else if (description === '') {
    throw new UserError('--description must not be empty');
  } else if (description.length > MAX_TEXT) {
    throw new UserError(`--description is ${description.length} characters; at most ${MAX_TEXT}`);
  }
  return { name: o.name, owners, task, description, defaulted };
}

/** The benchmark harness the commented recipe suggests for a task (both live in benchmarks/torch/). */
function harnessFor(task: string): string {
  return task === 'text-generation' ? 'benchmarks/torch/causal_lm.py' : 'benchmarks/torch/classifier.py';
}

/** models/<name>/model.yaml: identity, owners, task, description and a commented-out benchmark recipe. */
export function modelYaml(c: ModelCardInputs): string {
  const descriptionLine = stringify({ description: c.description }, { lineWidth: 0 }).trimEnd();
  return [
    '# yaml-language-server: $schema=../../schemas/model.schema.json',
    `name: ${c.name}`,
    `owners: [${c.owners.map((o) => JSON.stringify(o)).join(', ')}]`,
    `task: ${c.task}`,
    descriptionLine,
    '# tags: [slm-fleet]',
    '#',
    '# How CI benchmarks a version before it may enter production. Uncomment and adapt: the command runs',
    '# from the base branch with {model_dir} (the version folder, required), {golden_set} and {output}',
    '# filled in, and writes the metrics JSON (schemas/harness-output.schema.json) to {output}.',
    '# benchmark:',
    `#   command: python ${harnessFor(c.task)} --model-dir {model_dir} --golden {golden_set} --output {output}`,
    '#   runner: [self-hosted, gpu]                 # labels of the runner (docs/benchmark-runners.md)',
    '#   workload:',
    `#     goldenSet: benchmarks/golden/${c.name}.jsonl`,
    '#     goldenSetSha256: SHA256_OF_THE_GOLDEN_SET # sha256sum of the file, so a report names what it measured',
    '#     batchSizes: [1, 8, 32]',
    '#     warmup: 3',
    '#     runs: 6',
    '#     seed: 7',
    '#   thresholds:                                # bounds every new version must meet',
    '#     accuracy: {min: 0.9}',
    '#     latency_p99_ms: {max: 40}',
    '#   regression:                                # how much worse than production a new version may be',
    '#     latency_p50_ms: 10%',
    '#     accuracy: 1%',
    '',
  ].join('\n');
}

/** What `new` writes: the model card and, while it holds no cards, versions/.gitkeep. */
export function planNewModel(repo: string, c: ModelCardInputs): PlannedFile[] {
  const files: PlannedFile[] = [{ path: `models/${c.name}/model.yaml`, content: modelYaml(c), kind: 'create' }];
  if (folderIsEmpty(join(repo, 'models', c.name, 'versions')))
    files.push({ path: `models/${c.name}/versions/.gitkeep`, content: '', kind: 'create' });
  for (const f of files) selfCheck(f);
  return files;
}

// ---- the writer ------------------------------------------------------------------------------------

/**
 * Writes the planned files into `repo`. A `create` file that exists is kept (reported as skipped)
 * unless `force`; nothing is ever written through a symlink or over something that is not a file.
 */
export function writeScaffold(repo: string, files: readonly PlannedFile[], options: { force?: boolean } = {}) {
  const result: ScaffoldResult = { written: [], skipped: [] };
  const todo: PlannedFile[] = [];
  for (const f of files) {
    const abs = join(repo, ...f.path.split('/'));
    refuseLinkedParents(repo, f.path);
    const st = lstatOrUndefined(abs);
    if (st && !st.isFile())
      throw new UserError(`${f.path} exists but is not a regular file; refusing to write through it`);
    if (st) {
      const current = readFileSync(abs, 'utf8');
      if (current === f.content) {
        result.skipped.push({ path: f.path, reason: 'unchanged' });
        continue;
      }
      if (f.kind === 'create' && !options.force) {
        result.skipped.push({ path: f.path, reason: 'exists' });
        continue;
      }
    }
    todo.push(f);
  }
  for (const f of todo) {
    writeFileAtomicSync(join(repo, ...f.path.split('/')), f.content);
    result.written.push(f.path);
  }
  return result;
}

// ---- helpers ---------------------------------------------------------------------------------------

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function readIfFile(path: string): string | undefined {
  const st = lstatOrUndefined(path);
  if (!st) return undefined;
  if (!st.isFile()) throw new UserError(`${path} exists but is not a regular file`);
  return readFileSync(path, 'utf8');
}

/** Whether `dir` is missing or holds nothing. */
function folderIsEmpty(dir: string): boolean {
  const st = lstatOrUndefined(dir);
  if (!st) return true;
  if (!st.isDirectory()) return false; // the writer reports what is in the way
  return readdirSync(dir).length === 0;
}

/** A folder on the way to a planned file must not be a symlink: writes stay inside the repository. */
function refuseLinkedParents(repo: string, path: string): void {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const st = lstatOrUndefined(join(repo, ...parts.slice(0, i)));
    if (!st) return;
    if (st.isSymbolicLink()) throw new UserError(`${prefix} is a symlink; refusing to write ${path} through it`);
    if (!st.isDirectory()) throw new UserError(`${prefix} exists but is not a folder, so ${path} cannot be written`);
  }
}

/** Every registry file the scaffold writes must pass its schema as written (a guard against bugs here). */
function selfCheck(f: PlannedFile): void {
  const schema: SchemaName | undefined = f.path.startsWith('environments/')
    ? 'environment'
    : f.path.endsWith('/model.yaml')
      ? 'model'
      : undefined;
  if (!schema) return;
  const parsed = parseYamlFile(f.path, Buffer.from(f.content));
  const problems = parsed.ok ? validateAgainstSchema(parsed.value, schema) : parsed.diagnostics;
  if (problems.length > 0)
    throw new Error(`scaffold produced an invalid ${f.path}:\n${problems.map(formatDiagnostic).join('\n')}`);
}
