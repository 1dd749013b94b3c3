import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE, ROOT, runCli, tempDir } from '../helpers.ts';
import { demoManifest, demoWeightsDir, predictBody, send } from './helpers.ts';

/** `serve --json` in a child process, resolved once it printed where it listens. */
async function startServe(dir: string, manifestPath: string, extra: string[] = [], env: Record<string, string> = {}) {
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
      ...extra,
    ],
    { cwd: dir, env: { ...process.env, ...env } },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  const started = await new Promise<{ url: string; sequence: number; [k: string]: unknown }>((resolve, reject) => {
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
  return { child, started, stderr: () => err, stdout: () => out };
}

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
    const { child, started, stderr } = await startServe(dir, manifestPath);
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
    expect(stderr()).toContain('"type":"manifest-applied"');
    expect(stderr()).toContain('"type":"version-closed"');
  });

  it('guards /v1/* with the API key from MODEL_GITOPS_API_KEY, and never prints the key', async () => {
    const dir = tempDir('mg-serve-key-');
    const manifestPath = join(dir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(demoManifest({ 'intent-classifier': { version: '2.0.0' } })));
    const key = 'sk-test-7f3a9c1e5b';
    const { child, started, stderr, stdout } = await startServe(dir, manifestPath, [], { MODEL_GITOPS_API_KEY: key });
    try {
      expect(started).toMatchObject({ apiKey: true, unavailable: {} });
      const agent = new Agent({ keepAlive: false });
      const url = `${started.url}/v1/models/intent-classifier/predict`;
      expect((await send(agent, 'POST', url, predictBody('hello'))).status).toBe(401);
      const wrong = await send(agent, 'POST', url, predictBody('hello'), { authorization: 'Bearer sk-wrong' });
      expect(wrong.status).toBe(401);
      const ok = await send(agent, 'POST', url, predictBody('hello'), { authorization: `Bearer ${key}` });
      expect(ok.status).toBe(200);
      expect((await send(agent, 'GET', `${started.url}/healthz`)).status).toBe(200);
      agent.destroy();
    } finally {
      await new Promise((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      });
    }
    expect(stdout() + stderr()).not.toContain(key);
    // A named variable that is not set is a usage mistake, not "no key": refused before serving.
    const unset = runCli([
      'serve',
      '--manifest',
      manifestPath,
      '--environment',
      'production',
      '--models-dir',
      demoWeightsDir(),
      '--api-key-env',
      'MG_TEST_NO_SUCH_KEY',
    ]);
    expect(unset.status).toBe(2);
    expect(unset.stderr).toContain('--api-key-env MG_TEST_NO_SUCH_KEY: that environment variable is not set');
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
