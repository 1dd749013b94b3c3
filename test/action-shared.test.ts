// actions/shared: the typed input getters, the one way a step ends on an error (a user error is its
// message alone, a bug keeps its stack), and that every action names exactly the inputs of its action.yml.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isUserError } from '../src/lib/errors.ts';
import {
  booleanInput,
  intInput,
  listInput,
  optionalInput,
  positiveIntInput,
  requiredInput,
  stringInput,
} from '../actions/shared/inputs.ts';
import { sameIdentity } from '../actions/shared/comments.ts';
import { ROOT, tempDir } from './helpers.ts';
import { inputVariable, runAction as runRunner } from './helpers/actions.ts';

const input = (name: string, value: string) => vi.stubEnv(inputVariable(name), value);
const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (isUserError(e)) return e.message;
    throw e;
  }
  throw new Error('not refused');
};

describe('actions/shared/inputs', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('strings: trimmed, a fallback when empty or unset, required ones refused by name', () => {
    input('repo', '  registry \n');
    expect(stringInput('repo', '.')).toBe('registry');
    expect(stringInput('not-set', '.')).toBe('.');
    input('store', '');
    expect(optionalInput('store')).toBeUndefined();
    expect(requiredInput('repo')).toBe('registry');
    expect(refusal(() => requiredInput('model'))).toBe('input model is required and was not supplied');
  });

  it('booleans: true or false in any case, the fallback when empty, anything else refused by name', () => {
    input('comment', 'True');
    expect(booleanInput('comment', false)).toBe(true);
    input('comment', 'FALSE');
    expect(booleanInput('comment', true)).toBe(false);
    input('comment', '');
    expect(booleanInput('comment', true)).toBe(true);
    input('comment', 'yes');
    expect(refusal(() => booleanInput('comment', true))).toBe(`input comment must be 'true' or 'false', got "yes"`);
  });

  it('whole numbers: in range, the fallback when empty, anything else refused by name with what was given', () => {
    input('max-file-bytes', '4096');
    expect(positiveIntInput('max-file-bytes', 1)).toBe(4096);
    expect(positiveIntInput('not-set', 7)).toBe(7);
    expect(positiveIntInput('not-set')).toBeUndefined();
    for (const bad of ['0', '-3', '1.5', 'lots', '1e300']) {
      input('max-file-bytes', bad);
      expect(refusal(() => positiveIntInput('max-file-bytes', 1))).toBe(
        `input max-file-bytes must be a positive whole number, got "${bad}"`,
      );
    }
    input('runs', '0');
    expect(intInput('runs', { min: 0 })).toBe(0);
    expect(refusal(() => intInput('runs', { min: 1 }))).toBe('input runs must be a whole number >= 1, got "0"');
    input('runs', '11');
    expect(refusal(() => intInput('runs', { min: 1, max: 10 }))).toBe(
      'input runs must be a whole number from 1 to 10, got "11"',
    );
    expect(intInput('not-set', { min: 0, fallback: 1 })).toBe(1);
  });

  it('lists: one value per line, trimmed, blank lines dropped', () => {
    input('paths', 'a.yaml\n\n  b.yaml  \r\nc.yaml\n');
    expect(listInput('paths')).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
    expect(listInput('not-set')).toEqual([]);
  });
});

describe('actions/shared/comments: whose comment is ours', () => {
  it('only the token identity: the same login, with or without the [bot] suffix the API may leave off', () => {
    expect(sameIdentity({ login: 'github-actions[bot]' }, 'github-actions[bot]')).toBe(true);
    expect(sameIdentity({ login: 'github-actions[bot]' }, 'github-actions')).toBe(true);
    expect(sameIdentity({ login: 'model-gitops-ci[bot]' }, 'github-actions[bot]')).toBe(false);
    expect(sameIdentity({ login: 'mallory' }, 'github-actions[bot]')).toBe(false);
    expect(sameIdentity({ login: 'dana' }, 'dana')).toBe(true);
    expect(sameIdentity(null, 'github-actions[bot]')).toBe(false);
    expect(sameIdentity({}, 'github-actions[bot]')).toBe(false);
  });
});

describe('actions/shared/run: how a step ends on an error', () => {
  // An entry point like an action's main.ts, run as the runner runs it: INPUT_FAIL says what it throws.
  const script = join(tempDir('mg-action-'), 'main.mts');
  const url = (p: string) => pathToFileURL(join(ROOT, p)).href;
  writeFileSync(
    script,
    [
      `import { readFileSync } from 'node:fs';`,
      `import { positiveIntInput, stringInput } from '${url('actions/shared/inputs.ts')}';`,
      `import { runAction } from '${url('actions/shared/run.ts')}';`,
      `void runAction(async () => {`,
      `  const fail = stringInput('fail');`,
      `  if (fail === 'input') positiveIntInput('size');`,
      `  if (fail === 'io') readFileSync('/nonexistent/model-gitops/card.yaml');`,
      `  if (fail === 'bug') (undefined as unknown as { x: number }).x;`,
      `  console.log('done');`,
      `});`,
    ].join('\n'),
  );
  const run = (inputs: Record<string, string>) => runRunner(script, { cwd: tempDir('mg-ws-'), inputs });
  const errorLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('::error'));

  it('a bad input fails the step with one ::error:: naming it, and no stack', async () => {
    const r = await run({ fail: 'input', size: 'lots' });
    expect(r.status).toBe(1);
    expect(errorLines(r.stdout)).toEqual(['::error::input size must be a positive whole number, got "lots"']);
    expect(r.log).not.toMatch(/\bat .*:\d+:\d+/);
    expect(r.stdout).not.toContain('done');
  });

  it('local I/O a person fixes (ENOENT) is a user error too: the OS message alone', async () => {
    const r = await run({ fail: 'io' });
    expect(r.status).toBe(1);
    expect(errorLines(r.stdout)).toEqual([
      `::error::ENOENT: no such file or directory, open '/nonexistent/model-gitops/card.yaml'`,
    ]);
    expect(r.log).not.toMatch(/\bat .*:\d+:\d+/);
  });

  it('a bug fails the step with its stack and the bug exit code', async () => {
    const r = await run({ fail: 'bug' });
    expect(r.status).toBe(70);
    const [error, ...more] = errorLines(r.stdout);
    expect(more).toEqual([]);
    // The runner decodes %0A: the annotation shows the stack one frame a line, down to the failing line.
    expect(error).toMatch(
      /^::error::TypeError: Cannot read properties of undefined \(reading 'x'\)%0A {4}at .*main\.mts:8:/,
    );
    expect(r.stdout).not.toContain('done');
  });

  it('no error: the step succeeds', async () => {
    const r = await run({});
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('done\n');
  });
});

describe('actions: input names', () => {
  const actions = readdirSync(join(ROOT, 'actions')).filter((n) => n !== 'shared');

  it.each(actions)(
    'actions/%s names each input of its action.yml once, and reads inputs only through actions/shared',
    (name) => {
      const meta = parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as {
        inputs?: Record<string, unknown>;
      };
      const source = readFileSync(join(ROOT, 'actions', name, 'src', 'main.ts'), 'utf8');
      // The constant tables (`const INPUT = { key: 'name', ... }`, `const KEY_INPUT ... = { ... }`) hold every input name.
      const tables = [...source.matchAll(/^const [A-Z_]*INPUT\b[^=]*= (\{[\s\S]*?\})(?: as const)?;$/gm)].map(
        (m) => m[1]!,
      );
      expect(tables.length).toBeGreaterThan(0);
      const names = tables.flatMap((t) => [...t.matchAll(/:\s*'([^']+)'/g)].map((m) => m[1]!));
      expect(names.length, 'no input named twice').toBe(new Set(names).size);
      expect([...names].sort()).toEqual(Object.keys(meta.inputs ?? {}).sort());
      expect(source).not.toMatch(/core\.get(Boolean|Multiline)?Input\(|process\.env\.INPUT_|\bspawnSync\(/);
    },
  );
});
