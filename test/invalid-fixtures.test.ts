// The hostile-input corpus: every case in test/fixtures/invalid/ applied to test/fixtures/valid-base/
// must produce exactly the diagnostics its expect.json lists (file, line, field, rule, column when
// given, and a message containing the given text), and never a crash, a stack trace or a raw regex.
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Diagnostic, formatDiagnostic } from '../src/registry/diagnostics.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { BASE, FIXTURES, INVALID, type InvalidCase, buildCase, loadCases } from './helpers/invalid-cases.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(REPO, 'node_modules/.bin/node');
const CLI = join(REPO, 'bin/model-gitops.js');
const MAX_FILE_BYTES = 1048576;

const cases = loadCases();

function validate(dir: string) {
  return validateRegistry(new WorkingTreeSource(dir, { maxFileBytes: MAX_FILE_BYTES }));
}

function withCase<T>(c: InvalidCase, fn: (dir: string) => T): T {
  const dir = buildCase(c);
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a diagnostic must never contain: internals leaking instead of a sentence for a person. */
function hygieneProblems(d: Diagnostic): string[] {
  const out: string[] = [];
  const text = `${d.message}\n${d.field}`;
  if (/\n\s+at /.test(text) || text.includes('    at ')) out.push('a stack trace');
  if (text.includes('[object Object]')) out.push('[object Object]');
  if (/\^\[|\(\?[:=!]|\\d|\\S|\\s|\]\{\d/.test(d.message)) out.push('a raw regular expression');
  if (/\bundefined\b|\bNaN\b/.test(d.message)) out.push('undefined/NaN');
  if (/Maximum call stack|RangeError|TypeError/.test(d.message)) out.push('a JavaScript error');
  if (!Number.isInteger(d.line) || d.line < 1 || !Number.isInteger(d.column) || d.column < 1)
    out.push(`bad position ${d.line}:${d.column}`);
  if (!/^[a-z][a-z0-9-]*$/.test(d.rule)) out.push(`bad rule id ${JSON.stringify(d.rule)}`);
  if (d.severity !== 'error' && d.severity !== 'warning') out.push(`bad severity ${String(d.severity)}`);
  if (d.message.trim() === '') out.push('an empty message');
  return out;
}

describe('hostile-input corpus: layout', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('the base registry is valid on its own', () => {
    const r = validate(BASE);
    expect(r.diagnostics).toEqual([]);
    expect(r.counts.versions).toBeGreaterThan(0);
  });

  it('every case has a description, expected diagnostics and something to apply', () => {
    for (const c of cases) {
      expect(c.spec.description, c.name).toMatch(/\S/);
      expect(c.spec.diagnostics.length, c.name).toBeGreaterThan(0);
      expect(c.overlay.length + c.deletions.length + (c.spec.generate ? 1 : 0), c.name).toBeGreaterThan(0);
    }
  });

  it('every committed fixture file is small (< 20 KB; fuzz corpus inputs < 256 KB)', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)],
      );
    const files = walk(FIXTURES);
    expect(files.length).toBeGreaterThan(cases.length);
    // A fuzz crash is kept as found (a 100,000-level nesting is its own size), but never megabytes.
    const fuzz = join(FIXTURES, 'fuzz') + sep;
    for (const f of files) {
      const st = lstatSync(f);
      if (!st.isSymbolicLink()) expect(st.size, f).toBeLessThan((f.startsWith(fuzz) ? 256 : 20) * 1024);
    }
  });

  it('the symlink case is a committed git symlink to /etc/passwd', () => {
    const link = join(INVALID, 'symlink-outside/models/x/versions/1.0.0.yaml');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('/etc/passwd');
  });
});

describe('hostile-input corpus: each case', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = withCase(c, validate);
    const want = c.spec.diagnostics.map((x) => ({
      file: x.file,
      line: x.line,
      column: x.column ?? expect.any(Number),
      field: x.field,
      rule: x.rule,
      message: expect.stringContaining(x.message),
      severity: 'error',
    }));
    expect(result.diagnostics, c.spec.description).toEqual(want);
    expect(result.errors).toBeGreaterThan(0);
    for (const d of result.diagnostics) expect(hygieneProblems(d), JSON.stringify(d)).toEqual([]);
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      NODE,
      [CLI, ...args],
      { cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024, timeout: 20000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const byName = new Map(cases.map((c) => [c.name, c]));
const CLI_JSON_CASES = [
  'alias-bomb',
  'non-utf8',
  'nul-byte',
  'symlink-outside',
  'oversized-file',
  'deep-nesting-generated',
  'requires-cycle',
  'canary-weight-no-percent',
];
const CLI_TEXT_CASES = ['non-utf8', 'file-name-control-character', 'control-character'];

describe('hostile-input corpus: through the CLI', () => {
  it.each(CLI_JSON_CASES)('validate --json: %s', async (name) => {
    const c = byName.get(name)!;
    expect(c, name).toBeDefined();
    const dir = buildCase(c);
    try {
      const run = await runCli(['validate', '--repo', dir, '--json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      const out = JSON.parse(run.stdout) as { valid: boolean; errors: number; diagnostics: Diagnostic[] };
      expect(out.valid).toBe(false);
      expect(out.errors).toBe(c.spec.diagnostics.length);
      const first = c.spec.diagnostics[0]!;
      expect(out.diagnostics[0]).toMatchObject({
        file: first.file,
        line: first.line,
        field: first.field,
        rule: first.rule,
      });
      expect(out.diagnostics[0]!.message).toContain(first.message);
      expect(run.stdout).not.toContain('    at ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(CLI_TEXT_CASES)('validate (text): %s', async (name) => {
    const c = byName.get(name)!;
    const dir = buildCase(c);
    try {
      const run = await runCli(['validate', '--repo', dir]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      expect(run.stdout).not.toContain('    at ');
      // Nothing from the repository reaches the terminal raw: no escape sequences, no forged lines.
      expect(run.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      const lines = run.stdout.trimEnd().split('\n');
      const summary = lines.pop()!;
      expect(summary).toMatch(new RegExp(`^${c.spec.diagnostics.length} errors?  `));
      expect(lines).toHaveLength(c.spec.diagnostics.length);
      const library = withCase(c, validate).diagnostics;
      lines.forEach((line, i) => {
        const want = c.spec.diagnostics[i]!;
        // file:line:column  field  message  (the field is left out for whole-file problems)
        const m = /^(.+):(\d+):(\d+)  (?:(\S+)  )?(.+)$/.exec(line);
        expect(m, line).not.toBeNull();
        expect(Number(m![2])).toBe(want.line);
        expect(m![4] ?? '').toBe(want.field);
        expect(line).toBe(formatDiagnostic(library[i]!));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile-input corpus: generated inputs stay generated', () => {
  it('the oversized case is generated, not committed', () => {
    const c = byName.get('oversized-file')!;
    expect(c.overlay).toEqual([]);
    const dir = buildCase(c);
    try {
      expect(statSync(join(dir, 'models/intent-classifier/versions/2.1.0.yaml')).size).toBe(2000000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
