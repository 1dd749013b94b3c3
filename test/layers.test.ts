// The import layers of src/ (DESIGN.md's picture), checked against the code: a folder may import
// its own files and folders of lower layers, never a higher or a same-layer sibling, so the core stays
// a stack that reads from the bottom up. src/ never imports the GitHub toolkit or actions/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

/** Layer of each src/ folder: imports only go to a lower number (or within the folder). */
const LAYERS: Record<string, number> = {
  lib: 0,
  registry: 1,
  formats: 1,
  store: 2,
  'demo-model': 2,
  manifest: 3,
  benchmark: 4,
  trust: 4,
  review: 5,
  authoring: 5,
  publish: 5,
  sync: 5,
  observe: 5,
  gateway: 6,
  site: 6,
  lifecycle: 6,
  cli: 7,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a text names: static imports, re-exports, dynamic import() and import type. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

const read = (file: string) => ({ file, text: readFileSync(file, 'utf8') });

const folderOf = (file: string): string => relative(SRC, file).split(sep)[0]!;

interface Violation {
  file: string;
  imports: string;
  why: string;
}

function violations(files: { file: string; text: string }[]): Violation[] {
  const out: Violation[] = [];
  for (const { file, text } of files) {
    const from = folderOf(file);
    for (const spec of specifiers(text)) {
      const rel = relative(ROOT, file);
      if (spec.startsWith('@actions/')) {
        out.push({ file: rel, imports: spec, why: 'src/ is the pure core: GitHub toolkit imports belong in actions/' });
        continue;
      }
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) {
        if (relative(ROOT, target).startsWith(`actions${sep}`))
          out.push({ file: rel, imports: spec, why: 'src/ never imports actions/' });
        continue; // schemas/*.json, package.json: data, not layers
      }
      const to = folderOf(target);
      if (to === from) continue;
      const a = LAYERS[from];
      const b = LAYERS[to];
      if (a === undefined || b === undefined) {
        out.push({ file: rel, imports: spec, why: `src/${a === undefined ? from : to} has no layer in LAYERS` });
        continue;
      }
      if (b >= a) out.push({ file: rel, imports: spec, why: `${from} (layer ${a}) may not import ${to} (layer ${b})` });
    }
  }
  return out;
}

describe('import layers', () => {
  it('every src/ file sits in a folder with a layer (at most an index file at the root)', () => {
    const loose = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name !== 'index.ts')
      .map((e) => e.name);
    expect(loose).toEqual([]);
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(folders).toEqual(Object.keys(LAYERS).sort());
  });

  it('no import in src/ points up or sideways', () => {
    expect(violations(sourceFiles(SRC).map(read))).toEqual([]);
  });

  it('the check itself catches upward, sibling, GitHub and actions/ imports', () => {
    // Made-up files in the real folders (never written to disk), through the same checker.
    const probes = [
      { file: join(SRC, 'lib', 'probe.ts'), text: "import { Gateway } from '../gateway/gateway.ts';" },
      { file: join(SRC, 'sync', 'probe.ts'), text: "const p = await import('../publish/publish.ts');" },
      { file: join(SRC, 'store', 'probe.ts'), text: "import * as core from '@actions/core';" },
      { file: join(SRC, 'review', 'probe.ts'), text: "export { x } from '../../actions/shared/inputs.ts';" },
      {
        file: join(SRC, 'gateway', 'probe.ts'),
        text: "import type { Manifest } from '../manifest/manifest.ts';\nimport { x } from './gateway.ts';",
      },
    ];
    expect(violations(probes).map((v) => v.why)).toEqual([
      'lib (layer 0) may not import gateway (layer 6)',
      'sync (layer 5) may not import publish (layer 5)',
      'src/ is the pure core: GitHub toolkit imports belong in actions/',
      'src/ never imports actions/',
    ]);
  });

  it('actions/ import the core and their shared adapters, never the CLI', () => {
    const actionFiles = sourceFiles(join(ROOT, 'actions')).filter((f) => !f.includes(`${sep}dist${sep}`));
    const bad = actionFiles.flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .filter(
          (spec) =>
            spec.startsWith('.') && relative(ROOT, resolve(dirname(file), spec)).startsWith(`src${sep}cli${sep}`),
        )
        .map((spec) => `${relative(ROOT, file)} imports ${spec}`),
    );
    expect(bad).toEqual([]);
  });
});
