// The validate-cards action run as GitHub runs it: the committed bundle, INPUT_* variables, and the
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files of the runner contract.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, ROOT, edit, exampleRepo, tempDir } from './helpers.ts';

function runAction(workspace: string, inputs: Record<string, string>) {
  const dir = tempDir('mg-runner-');
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: workspace };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  const r = spawnSync(NODE, [join(ROOT, 'actions/validate-cards/dist/index.js')], { cwd: workspace, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, outputs: readFileSync(output, 'utf8'), summary: readFileSync(summary, 'utf8') };
}

function outputValue(file: string, name: string): string | undefined {
  const m = new RegExp(`^${name}<<(\\S+)\\n([\\s\\S]*?)\\n\\1$`, 'm').exec(file);
  return m?.[2];
}

describe('actions/validate-cards', () => {
  it('passes a valid registry with outputs and a summary', () => {
    const ws = exampleRepo();
    const r = runAction(ws, { repo: '.' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('::error');
    expect(outputValue(r.outputs, 'valid')).toBe('true');
    expect(outputValue(r.outputs, 'errors')).toBe('0');
    expect(r.summary).toContain('All 14 registry files are valid: 3 models, 8 versions, 3 environments.');
  });

  it('annotates each violation at its file and line and fails once at the end', () => {
    const ws = tempDir('mg-ws-');
    const repo = exampleRepo();
    // The registry lives in a subfolder of the workspace: annotation paths must include it.
    renameSync(repo, join(ws, 'registry'));
    edit(join(ws, 'registry'), 'models/pii-scrubber/versions/1.4.1.yaml', (t) => t.replace('version: 1.4.1', 'version: 1.4.0'));
    edit(join(ws, 'registry'), 'environments/dev.yaml', (t) => t.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 7.0.0'));
    const r = runAction(ws, { repo: 'registry' });
    expect(r.status).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toEqual([
      '::error title=models.pii-scrubber (environment-version),file=registry/environments/dev.yaml,line=5,col=17::models.pii-scrubber: pii-scrubber has no version 7.0.0 (known: 1.4.2)',
      '::error title=version (identity-file),file=registry/models/pii-scrubber/versions/1.4.1.yaml,line=3,col=10::version: version "1.4.0" must equal the file name "1.4.1.yaml"',
      '::error::2 model card error(s); see the annotations and the job summary',
    ]);
    expect(outputValue(r.outputs, 'valid')).toBe('false');
    expect(outputValue(r.outputs, 'errors')).toBe('2');
    expect(r.summary).toContain('<td>registry/environments/dev.yaml</td><td>5</td><td>models.pii-scrubber</td>');
  });

  it('fails with a clear message on a bad input', () => {
    const r = runAction(exampleRepo(), { repo: '.', 'max-file-bytes': 'lots' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::input max-file-bytes must be a positive whole number, got "lots"');
  });
});
