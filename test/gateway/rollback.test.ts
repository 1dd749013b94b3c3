import { Agent } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CanaryTracker,
  FolderVersionSource,
  type Gateway,
  type GatewayEvent,
  VersionWindow,
  bagOfBytesLoader,
  createGateway,
  evaluate,
} from '../../src/gateway/index.ts';
import { createRouter } from '../../src/manifest/routing.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { demoManifest, demoWeightsDir, parseMetrics, predictBody, recordingLoader, send } from './helpers.ts';

const M = 'intent-classifier';
const open: { gw: Gateway; agent: Agent }[] = [];
afterEach(async () => {
  for (const { gw, agent } of open.splice(0)) {
    agent.destroy();
    await gw.close();
  }
});

const canaryManifest = (
  sequence = 1,
  rollout: Manifest['environments'][string]['models'][string]['rollout'] = { failureLimit: 3 },
) => demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 40 }, rollout } }, { sequence });

async function start(
  manifest: Manifest,
  options: { statePath?: string; failPredict?: (version: string, call: number) => boolean } = {},
) {
  const events: GatewayEvent[] = [];
  const logLines: string[] = [];
  const { loader } = recordingLoader(bagOfBytesLoader, { failPredict: options.failPredict ?? ((v) => v === '2.1.0') });
  const gw = createGateway({
    environment: 'production',
    source: new FolderVersionSource(demoWeightsDir()),
    loaderFor: () => loader,
    onEvent: (e) => events.push(e),
    log: (l) => logLines.push(l),
    ...(options.statePath ? { statePath: options.statePath } : {}),
  });
  const applied = await gw.applyManifest(manifest);
  const { url } = await gw.listen();
  const agent = new Agent({ keepAlive: true });
  open.push({ gw, agent });
  const predict = (key: string) =>
    send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('hello'), { 'x-routing-key': key });
  return { gw, url, agent, events, logLines, predict, applied };
}

// Keys whose bucket puts them in the 40% canary, and keys that stay on the champion.
const router = createRouter(canaryManifest(), 'production');
const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`);
const canaryKeys = keys.filter((k) => router.route(M, k).reason === 'canary');
const championKeys = keys.filter((k) => router.route(M, k).reason === 'champion');

describe('automated canary rollback', () => {
  it('rolls a failing canary back after exactly failureLimit failures; the next requests go to the champion', async () => {
    const { gw, url, agent, events, logLines, predict } = await start(canaryManifest());
    const statuses: string[] = [];
    // Interleave champion traffic: it must neither count nor be disturbed.
    for (let i = 0; i < 10; i++) {
      const c = await predict(championKeys[i]!);
      expect(c.status).toBe(200);
      const r = await predict(canaryKeys[i]!);
      statuses.push(`${r.status}@${r.headers['x-served-version']}`);
    }
    expect(statuses.slice(0, 3)).toEqual(['502@undefined', '502@undefined', '502@undefined']);
    expect(statuses.slice(3)).toEqual(Array(7).fill('200@2.0.0'));

    const rb = events.filter((e) => e.type === 'canary-rolled-back');
    expect(rb).toHaveLength(1);
    expect(rb[0]).toMatchObject({
      model: M,
      canary: '2.1.0',
      champion: '2.0.0',
      failures: 3,
      requests: 3,
      reason: expect.stringMatching(/^failureLimit: 3 failed predictions reached the limit of 3/),
    });
    expect(logLines.map((l) => JSON.parse(l)).filter((l) => l.type === 'canary-rolled-back')).toHaveLength(1);

    const samples = parseMetrics((await send(agent, 'GET', `${url}/metrics`)).text);
    const v = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
    expect(v('model_gitops_canary_rolled_back', { model: M, version: '2.1.0' })).toBe(1);
    expect(v('model_gitops_canary_rollbacks_total')).toBe(1);
    expect(v('model_gitops_errors_total', { model: M, version: '2.1.0' })).toBe(3);
    expect(v('model_gitops_requests_total', { model: M, version: '2.0.0' })).toBe(17);
    const status = (await send(agent, 'GET', `${url}/status`)).json;
    expect(status.models[M].canary).toMatchObject({
      version: '2.1.0',
      state: 'rolled-back',
      rollback: { reason: expect.stringContaining('failureLimit') },
    });
    expect(status.rollbacks).toHaveLength(1);
    // Random traffic and overrides no longer reach the canary either.
    for (let i = 0; i < 20; i++)
      expect(
        (await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('x'))).headers['x-served-version'],
      ).toBe('2.0.0');
    const o = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('x'), {
      'x-model-version': '2.1.0',
    });
    expect(o.status).toBe(400);
    expect(o.json.error.code).toBe('rolled-back');

    // An operator may clear the rollback by hand: the canary takes traffic again, with a new window.
    expect(gw.clearRollback(M)).toBe(true);
    expect(gw.clearRollback(M)).toBe(false);
    expect((await predict(canaryKeys[0]!)).status).toBe(502);
    expect((await send(agent, 'GET', `${url}/status`)).json.models[M].canary).toMatchObject({
      state: 'active',
      window: { requests: 1, failures: 1 },
    });
  });

  it('persists the rollback: a restart does not resume the canary until a new manifest changes it', async () => {
    const statePath = join(tempDir('mg-state-'), 'state', 'production.json');
    const first = await start(canaryManifest(), { statePath });
    for (const k of canaryKeys.slice(0, 3)) await first.predict(k);
    expect(existsSync(statePath)).toBe(true);
    expect(JSON.parse(readFileSync(statePath, 'utf8')).rolledBack[M]).toMatchObject({
      canaryVersion: '2.1.0',
      champion: '2.0.0',
    });
    await first.gw.close();

    // Restart with the same manifest (and a canary that would now work): still rolled back.
    const second = await start(canaryManifest(2), { statePath, failPredict: () => false });
    expect(second.applied.rolledBack).toEqual([M]);
    for (const k of canaryKeys.slice(0, 10))
      expect((await second.predict(k)).headers['x-served-version']).toBe('2.0.0');
    expect((await send(second.agent, 'GET', `${second.url}/status`)).json.models[M].canary.state).toBe('rolled-back');

    // A manifest that changes the canary version clears the record and routes to the new canary.
    const next = demoManifest(
      { [M]: { version: '2.0.0', canary: { version: '1.1.0', weight: 40 }, rollout: { failureLimit: 3 } } },
      { sequence: 3 },
    );
    const r = await second.gw.applyManifest(next);
    expect(r.rolledBack).toEqual([]);
    expect(JSON.parse(readFileSync(statePath, 'utf8')).rolledBack).toEqual({});
    expect((await second.predict(canaryKeys[0]!)).headers['x-served-version']).toBe('1.1.0');
  });

  it('maxErrorRate waits for minRequests, then trips on the request that crosses the rate', async () => {
    // The canary fails every other call: 50% > 20%, judged from the 10th canary request.
    const m = canaryManifest(1, { maxErrorRate: 20, minRequests: 10 });
    const { events, predict } = await start(m, { failPredict: (v, call) => v === '2.1.0' && call % 2 === 0 });
    const served: string[] = [];
    for (const k of canaryKeys.slice(0, 14))
      served.push(String((await predict(k)).headers['x-served-version'] ?? 'failed'));
    expect(served.slice(0, 10).filter((s) => s === '2.1.0')).toHaveLength(5);
    expect(served.slice(10)).toEqual(Array(4).fill('2.0.0'));
    const e = events.find((x) => x.type === 'canary-rolled-back');
    expect(e).toMatchObject({
      requests: 10,
      failures: 5,
      reason: expect.stringMatching(/^maxErrorRate: 50\.00% of 10 predictions failed, above 20%/),
    });
  });

  it('a canary that cannot load is applied as rolled back instead of blocking the manifest', async () => {
    const m = canaryManifest();
    m.models[M]!.versions['2.1.0']!.files[0]!.size += 1;
    const { applied, events, predict } = await start(m);
    expect(applied.rolledBack).toEqual([M]);
    expect(events.find((e) => e.type === 'canary-rolled-back')).toMatchObject({
      reason: expect.stringMatching(/^canary failed to load: .*model\.safetensors is \d+ bytes/),
    });
    expect((await predict(canaryKeys[0]!)).headers['x-served-version']).toBe('2.0.0');
  });

  it('evaluates the latency ratio only with minRequests successes on both sides', () => {
    const canary = new VersionWindow();
    const champion = new VersionWindow();
    const add = (w: VersionWindow, n: number, seconds: number) => {
      for (let i = 0; i < n; i++) {
        w.requests++;
        w.successes++;
        w.latency.observe(seconds);
      }
    };
    const rule = { maxP99LatencyRatio: 1.5, minRequests: 20 };
    add(canary, 30, 0.03);
    add(champion, 19, 0.01);
    expect(evaluate(rule, canary, champion)).toBeUndefined();
    add(champion, 1, 0.01);
    expect(evaluate(rule, canary, champion)).toMatch(/^maxP99LatencyRatio: canary p99 .* is 3\.\d+x the champion's/);
    const fine = new VersionWindow();
    add(fine, 30, 0.012);
    expect(evaluate(rule, fine, champion)).toBeUndefined();
    // Without a rule nothing trips; a tracker trips once.
    const t = new CanaryTracker(M, '2.0.0', '2.1.0', { failureLimit: 1 });
    expect(t.observe('2.0.0', false, 0.001)).toBeUndefined();
    expect(t.observe('2.1.0', false, 0.001)).toMatch(/failureLimit/);
    expect(t.observe('2.1.0', false, 0.001)).toBeUndefined();
    expect(new CanaryTracker(M, '2.0.0', '2.1.0', undefined).observe('2.1.0', false, 1)).toBeUndefined();
  });
});
