import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE, ROOT, runCli, tempDir } from '../helpers.ts';
import { demoManifest, demoWeightsDir, predictBody, send } from './helpers.ts';

describe('model-gitops serve', () => {
  it('serves a manifest file over HTTP and drains on SIGTERM', async () => {
    const dir = tempDir('mg-serve-');
    const manifestPath = join(dir, 'manifest.json');
    writeFileSync(
      manifestPath,
      JSON.stringify(
        demoManifest(
          {
            'intent-classifier': {
              version: '2.0.0',
              canary: { version: '2.1.0', weight: 5 },
              rollout: { failureLimit: 10, maxErrorRate: 5 },
            },
          },
          { sequence: 9 },
        ),
      ),
    );
    const child = spawn(
      NODE,
      [
        join(ROOT, 'bin', 'model-gitops.js'),
        'serve',
        '--manifest',
        manifestPath,
        '--environment',
        'production',
        '--models-dir',
        demoWeightsDir(),
        '--port',
        '0',
        '--state',
        join(dir, 'state.json'),
        '--json',
      ],
      { cwd: dir },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
    });
    const started = await new Promise<{ url: string; sequence: number }>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        out += c;
        try {
          resolve(JSON.parse(out));
        } catch {
          /* not complete yet */
        }
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    expect(started.sequence).toBe(9);
    const agent = new Agent({ keepAlive: true });
    const r = await send(agent, 'POST', `${started.url}/v1/models/intent-classifier/predict`, predictBody('hello'), {
      'x-routing-key': 'user-10',
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-served-version']).toBe('2.1.0'); // bucket 409 < 500: the documented vector
    const status = (await send(agent, 'GET', `${started.url}/status`)).json;
    expect(status.models['intent-classifier'].rollout).toEqual({ failureLimit: 10, maxErrorRate: 5 });
    agent.destroy();
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(err).toContain('"type":"manifest-applied"');
    expect(err).toContain('"type":"version-closed"');
  });

  it('explains usage errors and invalid manifests with exit code 2', () => {
    const missing = runCli(['serve', '--environment', 'production']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--manifest is required');
    const dir = tempDir('mg-serve-');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ schemaVersion: 1 }));
    const bad = runCli([
      'serve',
      '--manifest',
      join(dir, 'bad.json'),
      '--environment',
      'production',
      '--models-dir',
      dir,
    ]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/is not a valid manifest:\n.*must have required property/);
    writeFileSync(join(dir, 'm.json'), JSON.stringify(demoManifest({ 'intent-classifier': { version: '2.0.0' } })));
    const env = runCli(['serve', '--manifest', join(dir, 'm.json'), '--environment', 'staging', '--models-dir', dir]);
    expect(env.status).toBe(2);
    expect(env.stderr).toContain('has no environment "staging" (it has: production)');
  });
});
