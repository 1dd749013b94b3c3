// The hostile-input corpus under test/fixtures/invalid/: each case is an overlay onto
// test/fixtures/valid-base/ (files at the same relative paths), an optional delete.txt listing base
// paths to remove, optional generated files (too big to commit) and expect.json with the diagnostics
// the validator must report. This module builds a case into a temporary registry folder.
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url));
export const BASE = join(FIXTURES, 'valid-base');
export const INVALID = join(FIXTURES, 'invalid');

export interface ExpectedDiagnostic {
  file: string;
  line: number;
  column?: number;
  field: string;
  rule: string;
  /** A substring the message must contain. */
  message: string;
}

/**
 * A file the test writes instead of committing it:
 * - `{path, bytes}`: a file of exactly `bytes` bytes (a valid-looking card padded with comment lines);
 * - `{path, prefix, repeat, count, then, suffix}`: prefix + repeat×count + then×count + suffix (deep nesting);
 * - `{path, symlink}`: a symbolic link to `symlink`;
 * - `{path, text}`: a file with this text (for names git checkouts cannot hold everywhere).
 */
export type GeneratedFile =
  | { path: string; bytes: number }
  | { path: string; prefix?: string; repeat: string; count: number; then?: string; suffix?: string }
  | { path: string; symlink: string }
  | { path: string; text: string };

export interface CaseSpec {
  description: string;
  diagnostics: ExpectedDiagnostic[];
  generate?: GeneratedFile | GeneratedFile[];
}

export interface InvalidCase {
  name: string;
  dir: string;
  spec: CaseSpec;
  /** Overlay files, as paths relative to the case folder (expect.json and delete.txt excluded). */
  overlay: string[];
  deletions: string[];
}

const CONTROL = new Set(['expect.json', 'delete.txt']);

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(root, r));
    if (st.isDirectory()) out.push(...listFiles(root, r));
    else if (!(rel === '' && CONTROL.has(name))) out.push(r);
  }
  return out;
}

export function loadCases(): InvalidCase[] {
  return readdirSync(INVALID, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const dir = join(INVALID, name);
      const spec = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as CaseSpec;
      const deletePath = join(dir, 'delete.txt');
      const deletions = existsSync(deletePath)
        ? readFileSync(deletePath, 'utf8')
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l !== '' && !l.startsWith('#'))
        : [];
      return { name, dir, spec, overlay: listFiles(dir), deletions };
    });
}

function safeJoin(root: string, rel: string): string {
  const abs = join(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith('..') || back.split(sep).includes('..'))
    throw new Error(`fixture path leaves the registry: ${rel}`);
  return abs;
}

function generate(root: string, g: GeneratedFile): void {
  const abs = safeJoin(root, g.path);
  mkdirSync(dirname(abs), { recursive: true });
  rmSync(abs, { force: true });
  if ('symlink' in g) {
    symlinkSync(g.symlink, abs);
  } else if ('text' in g) {
    writeFileSync(abs, g.text);
  } else if ('bytes' in g) {
    const head = 'name: intent-classifier\nversion: 2.1.0\n';
    const line = `# ${'padding '.repeat(12)}\n`;
    let body = head;
    body += line.repeat(Math.max(0, Math.floor((g.bytes - head.length) / line.length)));
    body += '#'.repeat(Math.max(0, g.bytes - body.length - 1)) + '\n';
    const buf = Buffer.from(body, 'utf8').subarray(0, g.bytes);
    if (buf.length !== g.bytes) throw new Error(`generated ${buf.length} bytes, wanted ${g.bytes}`);
    writeFileSync(abs, buf);
  } else {
    writeFileSync(abs, (g.prefix ?? '') + g.repeat.repeat(g.count) + (g.then ?? '').repeat(g.count) + (g.suffix ?? ''));
  }
}

/** Copies the base registry and applies the case to it; returns the folder (the caller removes it). */
export function buildCase(c: InvalidCase): string {
  const root = mkdtempSync(join(tmpdir(), `mg-invalid-${c.name}-`));
  cpSync(BASE, root, { recursive: true });
  for (const d of c.deletions) {
    const abs = safeJoin(root, d);
    if (!existsSync(abs)) throw new Error(`${c.name}/delete.txt: ${d} is not in the base registry`);
    rmSync(abs, { recursive: true });
  }
  for (const f of c.overlay) {
    const abs = safeJoin(root, f);
    mkdirSync(dirname(abs), { recursive: true });
    rmSync(abs, { force: true });
    // verbatimSymlinks: a committed symlink is copied as the link itself, target unchanged.
    cpSync(join(c.dir, f), abs, { verbatimSymlinks: true });
  }
  const gens =
    c.spec.generate === undefined ? [] : Array.isArray(c.spec.generate) ? c.spec.generate : [c.spec.generate];
  for (const g of gens) generate(root, g);
  return root;
}
