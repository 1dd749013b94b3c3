import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, bagOfBytesLoader, createGateway } from '../../src/gateway/index.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { IntentClassifier, loadModelDir } from '../../src/demo-model/model.ts';
import { parseJsonl } from '../../src/demo-model/dataset.ts';
import {
  demoManifest,
  demoEntry,
  demoWeightsDir,
  parseMetrics,
  predictBody,
  recordingLoader,
  send,
} from './helpers.ts';

const M = 'intent-classifier';
const open: { gw: Gateway; agent: Agent }[] = [];
afterEach(async () => {
  for (const { gw, agent } of open.splice(0)) {
    agent.destroy();
    await gw.close();
  }
});

async function start(
  options: Partial<Parameters<typeof createGateway>[0]> = {},
  manifest = demoManifest({
    [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 25 }, rollbackWindow: ['1.1.0'] },
  }),
) {
  const events: unknown[] = [];
  const gw = createGateway({
    environment: 'production',
    source: new FolderVersionSource(demoWeightsDir()),
    log: () => {},
    onEvent: (e) => events.push(e),
    ...options,
  });
  await gw.applyManifest(manifest);
  const { url } = await gw.listen(0, '127.0.0.1');
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  open.push({ gw, agent });
  return { gw, url, agent, events };
}

describe('gateway predictions', () => {
  it('the gateway loader and the CPU benchmark harness predict the same labels on the whole golden set', async () => {
    const texts = parseJsonl(readFileSync('benchmarks/golden/intents.jsonl', 'utf8'), 'intents.jsonl').map(
      (e) => e.text,
    );
    const root = demoWeightsDir();
    let checked = 0;
    for (const model of readdirSync(root)) {
      for (const version of readdirSync(join(root, model))) {
        const dir = join(root, model, version);
        const harness = new IntentClassifier(loadModelDir(dir)).predict(texts); // what benchmarks/cpu/harness.ts runs
        const gateway = await bagOfBytesLoader.load(dir, demoEntry(model, version));
        const outputs = (await gateway.predict(texts)) as { label: string; score: number }[];
        expect(outputs.map((o) => o.label)).toEqual(harness);
        checked += texts.length;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('runs the real demo models: same input, same label; versions differ; batches work', async () => {
    const { url, agent } = await start();
    const texts = [
      'hello there',
      'I want to order two pizzas',
      'cancel my order please',
      'what is the weather',
      'hi!',
      'refund',
      'zzz',
      'order 66',
    ];
    const labelsBy = async (version: string) => {
      const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(texts), {
        'x-model-version': version,
      });
      expect(r.status).toBe(200);
      expect(r.headers['x-served-version']).toBe(version);
      expect(r.json).toMatchObject({ model: M, version, reason: 'override' });
      return (r.json.outputs as { label: string; score: number }[]).map((o) => o.label);
    };
    const a = await labelsBy('2.0.0');
    expect(await labelsBy('2.0.0')).toEqual(a);
    for (const l of a) expect(['greet', 'order', 'cancel_order', 'other']).toContain(l);
    const b = await labelsBy('1.1.0');
    for (const l of b) expect(['greet', 'order', 'other']).toContain(l);
    const c = await labelsBy('2.1.0');
    expect(
      [b.join(), c.join()].some((x) => x !== a.join()),
      'different weights should label something differently',
    ).toBe(true);
    const one = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody({ text: texts[1] }), {
      'x-model-version': '2.0.0',
    });
    expect(one.json.outputs.label).toBe(a[1]);
    expect(one.json.outputs.score).toBeGreaterThan(0);
    expect(one.json.outputs.score).toBeLessThanOrEqual(1);
  });

  it('routes by x-routing-key like the router does, and sticks', async () => {
    const { gw, url, agent } = await start();
    const { createRouter } = await import('../../src/manifest/routing.ts');
    const router = createRouter(
      demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 25 } } }),
      'production',
    );
    for (let i = 0; i < 40; i++) {
      const key = `user-${i}`;
      const want = router.route(M, key);
      for (let rep = 0; rep < 2; rep++) {
        const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('hi'), {
          'x-routing-key': key,
        });
        expect(r.headers['x-served-version']).toBe(want.version);
        expect(r.headers['x-route-reason']).toBe(want.reason);
      }
    }
    expect((await gw.predict(M, 'hi', { key: 'user-3' })).version).toBe(router.route(M, 'user-3').version);
  });

  it('after each switch lets the source free what neither the new manifest nor the one it replaced uses', async () => {
    const retained: string[][] = [];
    class RecordingSource extends FolderVersionSource {
      async retain(versions: { model: string; version: string }[]) {
        retained.push(versions.map((v) => `${v.model}@${v.version}`).sort());
      }
    }
    const { gw } = await start(
      { source: new RecordingSource(demoWeightsDir()) },
      demoManifest({ [M]: { version: '2.0.0' } }),
    );
    expect(retained).toEqual([[`${M}@2.0.0`]]);
    await gw.applyManifest(demoManifest({ [M]: { version: '2.1.0' } }, { sequence: 2 }));
    expect(retained[1]).toEqual([`${M}@2.0.0`, `${M}@2.1.0`]); // one step back stays
    await gw.applyManifest(
      demoManifest({ [M]: { version: '2.1.0', canary: { version: '1.1.0', weight: 10 } } }, { sequence: 3 }),
    );
    expect(retained[2]).toEqual([`${M}@1.1.0`, `${M}@2.1.0`]); // 2.0.0 is two steps back: free to go
  });

  it('a failing prune is reported and does not undo the switch', async () => {
    class FailingSource extends FolderVersionSource {
      async retain(): Promise<void> {
        throw new Error('disk on fire');
      }
    }
    const { gw, events } = await start(
      { source: new FailingSource(demoWeightsDir()) },
      demoManifest({ [M]: { version: '2.0.0' } }),
    );
    const r = await gw.applyManifest(demoManifest({ [M]: { version: '2.1.0' } }, { sequence: 2 }));
    expect(r.loaded).toEqual([`${M}@2.1.0`]);
    expect((await gw.predict(M, 'hi', {})).version).toBe('2.1.0');
    expect(events).toContainEqual(expect.objectContaining({ type: 'prune-failed', error: 'disk on fire' }));
  });

  it('hot-swaps under continuous load with zero failed requests, closing old versions only after they drain', async () => {
    const { loader, log } = recordingLoader(bagOfBytesLoader, {
      predictDelayMs: 3,
      loadDelayMs: (v) => (v === '1.0.0' || v === '1.1.0' ? 300 : 0),
    });
    const m1 = demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 50 } } }, { sequence: 1 });
    const m2 = demoManifest({ [M]: { version: '1.1.0', canary: { version: '1.0.0', weight: 50 } } }, { sequence: 2 });
    const m3 = demoManifest({ [M]: { version: '2.1.0' } }, { sequence: 3 });
    const { gw, url, agent, events } = await start({ loaderFor: () => loader }, m1);

    const served: { version: string; at: number }[] = [];
    const failures: string[] = [];
    let stop = false;
    const client = async (id: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await send(
            agent,
            'POST',
            `${url}/v1/models/${M}/predict`,
            predictBody(`client ${id} request ${i}`),
            { 'x-routing-key': `c${id}-${i}` },
          );
          if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
          else served.push({ version: String(r.headers['x-served-version']), at: performance.now() });
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, i) => client(i));
    await new Promise((r) => setTimeout(r, 400));
    const swap2 = gw.applyManifest(m2); // 1.x load slowly (300 ms) while 2.x keep serving
    const r2 = await swap2;
    expect(r2.loaded.sort()).toEqual([`${M}@1.0.0`, `${M}@1.1.0`]);
    expect(r2.retired.sort()).toEqual([`${M}@2.0.0`, `${M}@2.1.0`]);
    const swappedAt2 = performance.now();
    await new Promise((r) => setTimeout(r, 600));
    await gw.applyManifest(m3);
    const swappedAt3 = performance.now();
    await new Promise((r) => setTimeout(r, 600));
    stop = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(served.length).toBeGreaterThan(300);
    const versions = new Set(served.map((s) => s.version));
    expect(versions).toEqual(new Set(['2.0.0', '2.1.0', '1.1.0', '1.0.0']));
    // New versions were warm before the first request reached them.
    for (const v of ['1.0.0', '1.1.0']) {
      const first = Math.min(...served.filter((s) => s.version === v).map((s) => s.at));
      expect(log.get(v)![0]!.warmedAt!).toBeLessThan(first);
    }
    // After a swap (plus one in-flight request's worth of time) nothing is served by retired versions.
    expect(
      served.filter(
        (s) => (s.version === '2.0.0' || s.version === '2.1.0') && s.at > swappedAt2 + 50 && s.at < swappedAt3,
      ),
    ).toEqual([]);
    expect(served.filter((s) => s.version !== '2.1.0' && s.at > swappedAt3 + 50)).toEqual([]);
    // Every retired instance closed once, with nothing in flight, and got no request afterwards.
    // (2.1.0 was retired by m2 and loaded again by m3: its first instance closed, the second serves.)
    const retired = [log.get('2.0.0')![0]!, log.get('2.1.0')![0]!, log.get('1.1.0')![0]!, log.get('1.0.0')![0]!];
    for (const l of retired) {
      expect(l.closedAt).toBeDefined();
      expect(l.maxInflightAtClose).toBe(0);
      expect(l.predictsAfterClose).toBe(0);
      expect(l.served).toBeGreaterThan(0);
    }
    expect(log.get('2.1.0')!.length).toBe(2);
    expect(log.get('2.1.0')![1]!.closedAt).toBeUndefined();
    expect(
      events
        .filter((e: any) => e.type === 'version-closed')
        .map((e: any) => e.version)
        .sort(),
    ).toEqual(['1.0.0', '1.1.0', '2.0.0', '2.1.0']);
  });

  it('rejects a manifest whose champion cannot load and keeps serving the old one', async () => {
    const broken = demoManifest({ [M]: { version: '1.0.0' } }, { sequence: 2 });
    broken.models[M]!.versions['1.0.0']!.files[0]!.sha256 = 'f'.repeat(64); // the folder no longer matches the manifest
    const { gw, url, agent } = await start();
    await expect(gw.applyManifest(broken)).rejects.toThrow(
      /not applied; routing is unchanged[\s\S]*1\.0\.0 \(champion\).*sha256/,
    );
    const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('hi'), {
      'x-model-version': '2.0.0',
    });
    expect(r.status).toBe(200);
    expect((await send(agent, 'GET', `${url}/healthz`)).json).toMatchObject({ status: 'ok', sequence: 1 });
  });

  it('exposes Prometheus metrics whose counts match the requests sent', async () => {
    const { url, agent } = await start();
    const sent = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(`text ${i}`), {
        'x-routing-key': `k${i}`,
      });
      expect(r.status).toBe(200);
      const v = String(r.headers['x-served-version']);
      sent.set(v, (sent.get(v) ?? 0) + 1);
    }
    for (let i = 0; i < 7; i++)
      await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('x'), { 'x-model-version': '1.1.0' });
    await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(42), { 'x-model-version': '1.1.0' }); // bad input: rejected, not an error
    sent.set('1.1.0', 7);
    expect(sent.get('2.0.0')! + sent.get('2.1.0')!).toBe(60);

    const res = await send(agent, 'GET', `${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(res.text);
    const get = (name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    for (const [version, n] of sent) {
      expect(get('model_gitops_requests_total', { model: M, version })[0]?.value, version).toBe(n);
      expect(get('model_gitops_errors_total', { model: M, version })[0]?.value).toBe(0);
      expect(get('model_gitops_request_duration_seconds_count', { model: M, version })[0]?.value).toBe(n);
      const buckets = get('model_gitops_request_duration_seconds_bucket', { model: M, version });
      expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: n });
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      const q = (quantile: string) =>
        get('model_gitops_request_duration_quantile_seconds', { model: M, version, quantile })[0]!.value;
      expect(q('0.5')).toBeGreaterThan(0);
      expect(q('0.5')).toBeLessThanOrEqual(q('0.95'));
      expect(q('0.95')).toBeLessThanOrEqual(q('0.99'));
    }
    expect(get('model_gitops_routed_total', { model: M, version: '1.1.0', reason: 'override' })[0]?.value).toBe(8);
    expect(get('model_gitops_rejected_total', { model: M, version: '1.1.0' })[0]?.value).toBe(1);
    expect(get('model_gitops_manifest_sequence', {})[0]?.value).toBe(1);
    expect(get('model_gitops_canary_rolled_back', { model: M, version: '2.1.0' })[0]?.value).toBe(0);
    const status = (await send(agent, 'GET', `${url}/status`)).json;
    expect(status.models[M].versions['1.1.0']).toMatchObject({ requests: 7, errors: 0, loaded: true });
  });

  it('answers bad requests with clear 4xx JSON errors and keeps serving', async () => {
    const { url, agent } = await start({ maxBodyBytes: 4096 });
    const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
      send(agent, 'POST', `${url}${path}`, body, headers);
    const cases: [Promise<Awaited<ReturnType<typeof send>>>, number, string, RegExp][] = [
      [
        post('/v1/models/nope/predict', predictBody('x')),
        404,
        'unknown-model',
        /"nope" is not deployed in environment "production"/,
      ],
      [post(`/v1/models/${M}/predict`, '{"inputs": "x"'), 400, 'bad-json', /not valid JSON/],
      [post(`/v1/models/${M}/predict`, '[1,2]'), 400, 'bad-request', /"inputs"/],
      [post(`/v1/models/${M}/predict`, Buffer.alloc(50_000, 'a')), 413, 'body-too-large', /exceeds 4096 bytes/],
      [
        post(`/v1/models/${M}/predict`, Buffer.alloc(50_000, 'a'), { 'transfer-encoding': 'chunked' }),
        413,
        'body-too-large',
        /exceeds 4096 bytes/,
      ],
      [
        post(`/v1/models/${M}/predict`, predictBody('x'), { 'x-model-version': '9.9.9' }),
        400,
        'unknown-version',
        /9\.9\.9 is not served in "production"; an override may name: 2\.0\.0, 2\.1\.0, 1\.1\.0/,
      ],
      [post(`/v1/models/${M}/predict`, predictBody(17)), 400, 'bad-input', /inputs must be a string/],
      [post(`/v1/models/${M}/predict`, predictBody('')), 400, 'bad-input', /non-empty string/],
      [send(agent, 'GET', `${url}/v1/models/${M}/predict`), 405, 'method-not-allowed', /accepts POST only/],
      [send(agent, 'GET', `${url}/nowhere`), 404, 'not-found', /no route for GET \/nowhere/],
      [post('/v1/models/%E0%A4%A/predict', predictBody('x')), 400, 'bad-path', /percent-encoding/],
      [post('/v1/chat/completions', JSON.stringify({ messages: [] })), 400, 'bad-request', /"model" string/],
      [
        post('/v1/chat/completions', JSON.stringify({ model: M, messages: [] })),
        400,
        'bad-input',
        /not served through an OpenAI-compatible endpoint/,
      ],
    ];
    for (const [p, status, code, message] of cases) {
      const r = await p;
      expect(r.status, r.text).toBe(status);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.message).toMatch(message);
    }
    // A client that promises 1000 bytes, sends 10 and hangs up.
    await new Promise<void>((resolve, reject) => {
      const sock = connect(Number(new URL(url).port), '127.0.0.1', () => {
        sock.write(
          `POST /v1/models/${M}/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"inputs":`,
        );
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
      sock.on('error', reject);
    });
    expect((await send(agent, 'GET', `${url}/healthz`)).status).toBe(200);
    expect((await post(`/v1/models/${M}/predict`, predictBody('still fine'))).status).toBe(200);
    const models = (await send(agent, 'GET', `${url}/v1/models`)).json;
    expect(models.data.map((m: { id: string }) => m.id)).toEqual([M]);
  });

  it('is not ready before a manifest is applied', async () => {
    const gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(demoWeightsDir()),
      log: () => {},
    });
    const { url } = await gw.listen();
    const agent = new Agent({ keepAlive: true });
    open.push({ gw, agent });
    expect((await send(agent, 'GET', `${url}/healthz`)).status).toBe(503);
    const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('x'));
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('not-ready');
    expect(demoEntry(M, '2.0.0').files.map((f) => f.path)).toContain('model.safetensors');
  });
});
