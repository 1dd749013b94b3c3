// Seeded simulated traffic through a real gateway (the demo MLP models, loopback HTTP): every answer
// carries x-request-id, outcomes go back over POST /v1/feedback, and GET /v1/observations feeds the
// experiment verdict and the drift check. The 1,000-experiment A/A rate is measured on the statistics
// module (sequential.test.ts); here 8 A/A experiments and one with a real lift go through HTTP.
import { Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonl } from '../../src/demo-model/dataset.ts';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import { mulberry32, pick } from '../../src/lib/prng.ts';
import { lengthHistogram } from '../../src/observe/counters.ts';
import { checkDrift } from '../../src/observe/drift.ts';
import { mergeWindows } from '../../src/observe/counters.ts';
import { experimentReport } from '../../src/observe/experiment.ts';
import { type ObservationsSnapshot, parseObservations } from '../../src/observe/observations.ts';
import { demoManifest, demoWeightsDir, predictBody, send } from '../gateway/helpers.ts';

const M = 'intent-classifier';
const GOLDEN = parseJsonl(readFileSync('benchmarks/golden/intents.jsonl', 'utf8'), 'intents.jsonl');
const SPEC = { hypothesis: 'h', metric: 'resolved', alpha: 0.05, minSamples: 200, minimumDetectableEffect: '20%' };

let gw: Gateway;
let url: string;
let agent: Agent;
beforeAll(async () => {
  gw = createGateway({ environment: 'production', source: new FolderVersionSource(demoWeightsDir()), log: () => {} });
  await gw.applyManifest(
    demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 50 }, rollbackWindow: [] } }),
  );
  ({ url } = await gw.listen(0, '127.0.0.1'));
  agent = new Agent({ keepAlive: true, maxSockets: 8 });
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await gw.close();
});

async function observations(): Promise<ObservationsSnapshot> {
  const r = await send(agent, 'GET', `${url}/v1/observations`);
  expect(r.status).toBe(200);
  return parseObservations(r.text, 'GET /v1/observations');
}

/** Arms of this experiment only: the difference of two snapshots. */
function delta(after: ObservationsSnapshot, before: ObservationsSnapshot): ObservationsSnapshot {
  return {
    ...after,
    versions: after.versions.map((v) => {
      const b = before.versions.find((x) => x.model === v.model && x.version === v.version)?.feedback ?? {
        n: 0,
        sum: 0,
        sumSq: 0,
      };
      return {
        ...v,
        feedback: { n: v.feedback.n - b.n, sum: v.feedback.sum - b.sum, sumSq: v.feedback.sumSq - b.sumSq },
      };
    }),
  };
}

/** `n` users, each one request with a random routing key, outcome drawn with the served version's rate. */
async function experiment(
  seed: number,
  n: number,
  rate: (version: string) => number,
  texts = GOLDEN.map((e) => e.text),
) {
  const rng = mulberry32(seed);
  const served: Record<string, number> = {};
  const loops = Array.from({ length: 8 }, async (_, loop) => {
    for (let i = loop; i < n; i += 8) {
      const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(pick(rng, texts)), {
        'x-routing-key': `user-${seed}-${i}`,
      });
      expect(r.status).toBe(200);
      const id = r.headers['x-request-id'] as string;
      const version = r.headers['x-served-version'] as string;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      served[version] = (served[version] ?? 0) + 1;
      const fb = await send(
        agent,
        'POST',
        `${url}/v1/feedback`,
        JSON.stringify({ request_id: id, outcome: rng() < rate(version) }),
      );
      expect(fb.status).toBe(200);
      expect(fb.json).toMatchObject({ result: 'recorded', model: M, version });
    }
  });
  await Promise.all(loops);
  return served;
}

describe('experiments through the gateway', () => {
  it('8 seeded A/A experiments (600 users each): feedback counted exactly, no winner declared', async () => {
    let winners = 0;
    for (let k = 0; k < 8; k++) {
      const before = await observations();
      const served = await experiment(100 + k, 600, () => 0.5);
      const snap = delta(await observations(), before);
      const r = experimentReport([snap], M, SPEC);
      expect(r.champion).toBe('2.0.0');
      expect(r.challenger).toBe('2.1.0');
      expect(r.result.champion.n).toBe(served['2.0.0']);
      expect(r.result.challenger.n).toBe(served['2.1.0']);
      if (r.result.verdict === 'challenger' || r.result.verdict === 'champion') winners++;
    }
    expect(winners).toBe(0);
  }, 60_000);

  it('a real lift (0.4 -> 0.6 resolved) is called for the challenger, action promote', async () => {
    const before = await observations();
    await experiment(7, 1200, (v) => (v === '2.1.0' ? 0.6 : 0.4));
    const r = experimentReport([delta(await observations(), before)], M, SPEC);
    expect(r.result.verdict).toBe('challenger');
    expect(r.action).toBe('promote');
  }, 60_000);
});

describe('feedback endpoint', () => {
  it('refuses unknown, duplicate and malformed feedback with the reason, and counts it', async () => {
    const p = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody('hello'));
    const id = p.headers['x-request-id'] as string;
    expect(
      (await send(agent, 'POST', `${url}/v1/feedback`, JSON.stringify({ request_id: id, value: 4.5 }))).status,
    ).toBe(200);
    const dup = await send(agent, 'POST', `${url}/v1/feedback`, JSON.stringify({ request_id: id, value: 1 }));
    expect(dup.status).toBe(409);
    expect(dup.text).toMatch(/already has feedback/);
    const unknown = await send(
      agent,
      'POST',
      `${url}/v1/feedback`,
      JSON.stringify({ request_id: 'nope-1', outcome: true }),
    );
    expect(unknown.status).toBe(404);
    for (const [body, re] of [
      ['[]', /JSON object/],
      ['{"request_id": 5, "outcome": true}', /request_id/],
      [JSON.stringify({ request_id: id, outcome: 'yes' }), /"outcome" must be true or false/],
      [JSON.stringify({ request_id: id, outcome: true, value: 1 }), /exactly one of/],
      [JSON.stringify({ request_id: id, value: 1e300 }), /finite number/],
    ] as const) {
      const r = await send(agent, 'POST', `${url}/v1/feedback`, body);
      expect(r.status, body).toBe(400);
      expect(r.json.error.message).toMatch(re);
    }
    expect((await send(agent, 'GET', `${url}/v1/feedback`)).status).toBe(405);
    const snap = await observations();
    expect(snap.feedback.duplicate).toBeGreaterThanOrEqual(1);
    expect(snap.feedback.unknown).toBeGreaterThanOrEqual(1);
  });
});

describe('drift through the gateway', () => {
  it('golden-like traffic stays quiet against the golden reference; long, odd inputs are flagged', async () => {
    const reference = {
      requests: GOLDEN.length,
      outputs: {} as Record<string, number>,
      inputLength: lengthHistogram(GOLDEN.map((e) => e.text.length)),
    };
    // Reference outputs: what 2.0.0 answers on the golden set (through the gateway, pinned).
    const pinned = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(GOLDEN.map((e) => e.text)), {
      'x-model-version': '2.0.0',
    });
    for (const o of pinned.json.outputs as { label: string }[])
      reference.outputs[o.label] = (reference.outputs[o.label] ?? 0) + 1;
    const live = (s: ObservationsSnapshot) =>
      mergeWindows(s.versions.filter((v) => v.model === M && v.version === '2.0.0').flatMap((v) => v.windows));
    const base = live(await observations());
    const minus = (a: ReturnType<typeof live>, b: ReturnType<typeof live>) => ({
      requests: a.requests - b.requests,
      outputs: Object.fromEntries(Object.entries(a.outputs).map(([k, v]) => [k, v - (b.outputs[k] ?? 0)])),
      inputLength: a.inputLength.map((v, i) => v - b.inputLength[i]!),
    });
    await experiment(11, 600, () => 0.5);
    const afterGolden = live(await observations());
    expect(
      checkDrift(minus(afterGolden, base), reference, { metric: 'psi', warn: 0.1, fail: 0.25, minRequests: 200 }).level,
    ).toBe('ok');
    const odd = GOLDEN.map((e) => `${e.text} ${'please cancel everything now '.repeat(6)}`);
    await experiment(12, 600, () => 0.5, odd);
    const drifted = checkDrift(minus(live(await observations()), afterGolden), reference, {
      metric: 'psi',
      warn: 0.1,
      fail: 0.25,
      minRequests: 200,
    });
    expect(drifted.level).toBe('fail');
    expect(drifted.findings.find((f) => f.feature === 'inputLength')!.level).toBe('fail');
  }, 60_000);
});
