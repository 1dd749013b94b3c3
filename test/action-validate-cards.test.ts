// The validate-cards action run as GitHub runs it: the committed bundle, INPUT_* variables, and the
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files of the runner contract.
import { describe, expect, it } from 'vitest';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { edit, exampleRepo, tempDir } from './helpers.ts';
import { runAction as runRunner } from './helpers/actions.ts';

const runAction = (workspace: string, inputs: Record<string, string>) =>
  runRunner('actions/validate-cards/dist/index.js', { cwd: workspace, inputs });

describe('actions/validate-cards', () => {
  it('passes a valid registry with outputs and a summary', async () => {
    const ws = exampleRepo();
    const r = await runAction(ws, { repo: '.' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('::error');
    expect(r.outputs.valid).toBe('true');
    expect(r.outputs.errors).toBe('0');
    expect(r.summary).toContain('All 14 registry files are valid: 3 models, 8 versions, 3 environments.');
  });

  it('annotates each violation at its file and line and fails once at the end', async () => {
    const ws = tempDir('mg-ws-');
    const repo = exampleRepo();
    // The registry lives in a subfolder of the workspace: annotation paths must include it.
    renameSync(repo, join(ws, 'registry'));
    edit(join(ws, 'registry'), 'models/pii-scrubber/versions/1.4.1.yaml', (t) =>
      t.replace('version: 1.4.1', 'version: 1.4.0'),
    );
    edit(join(ws, 'registry'), 'environments/dev.yaml', (t) => t.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 7.0.0'));
    const r = await runAction(ws, { repo: 'registry' });
    expect(r.status).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toEqual([
      '::error title=models.pii-scrubber (environment-version),file=registry/environments/dev.yaml,line=5,col=17::models.pii-scrubber: pii-scrubber has no version 7.0.0 (known: 1.4.2)',
      '::error title=version (identity-file),file=registry/models/pii-scrubber/versions/1.4.1.yaml,line=3,col=10::version: version "1.4.0" must equal the file name "1.4.1.yaml"',
      '::error::2 model card error(s); see the annotations and the job summary',
    ]);
    expect(r.outputs.valid).toBe('false');
    expect(r.outputs.errors).toBe('2');
    expect(r.summary).toContain('<td>registry/environments/dev.yaml</td><td>5</td><td>models.pii-scrubber</td>');
  });

  it('fails with a clear message on a bad input', async () => {
    const r = await runAction(exampleRepo(), { repo: '.', 'max-file-bytes': 'lots' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::input max-file-bytes must be a positive whole number, got "lots"');
  });
});
