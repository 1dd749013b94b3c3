// The run-benchmark action as a runner runs it: `node actions/run-benchmark/src/main.ts` with INPUT_*,
// GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, a pull_request event and GITHUB_API_URL pointing at a local
// node:http server standing in for the GitHub REST API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseReport } from '../../src/benchmark/report.ts';
import { NODE, ROOT, tempDir } from '../helpers.ts';
import { benchFixture } from './fixture.ts';

interface Call { method: string; url: string; body: unknown }
interface Comment { id: number; body: string; user: { login: string; type: string } }

let server: Server;
let api: string;
const calls: Call[] = [];
let comments: Comment[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => { data += c.toString(); });
    req.on('end', () => {
      const body = data ? JSON.parse(data) as { body?: string } : undefined;
      calls.push({ method: req.method!, url: req.url!, body });
      const json = (status: number, v: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
      const url = new URL(req.url!, 'http://x');
      if (req.method === 'GET' && url.pathname === '/repos/acme/registry/issues/7/comments') return json(200, comments);
      if (req.method === 'POST' && url.pathname === '/repos/acme/registry/issues/7/comments') {
        const c = { id: 1000 + comments.length, body: body!.body!, user: { login: 'github-actions[bot]', type: 'Bot' } };
        comments.push(c);
        return json(201, c);
      }
      const m = /^\/repos\/acme\/registry\/issues\/comments\/(\d+)$/.exec(url.pathname);
      if (req.method === 'PATCH' && m) {
        const c = comments.find((x) => x.id === Number(m[1]));
        if (!c) return json(404, { message: 'Not Found' });
        c.body = body!.body!;
        return json(200, c);
      }
      json(404, { message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function runAction(inputs: Record<string, string>, cwd: string) {
  const dir = tempDir('mg-runner-');
  const output = join(dir, 'output'), summary = join(dir, 'summary'), event = join(dir, 'event.json');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  writeFileSync(event, JSON.stringify({ action: 'labeled', number: 7, pull_request: { number: 7, head: { sha: 'a'.repeat(40) } }, repository: { full_name: 'acme/registry' } }));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '', GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_EVENT_PATH: event, GITHUB_EVENT_NAME: 'pull_request_target',
    GITHUB_REPOSITORY: 'acme/registry', GITHUB_API_URL: api, GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '99', GITHUB_WORKSPACE: cwd,
    'INPUT_GITHUB-TOKEN': 'test-token', INPUT_COMMENT: 'true', 'INPUT_WARMUP-RUNS': '0', INPUT_CHAMPION: 'production',
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  // Asynchronous spawn: the fake API lives in this process and must keep answering.
  const child = spawn(NODE, [join(ROOT, 'actions/run-benchmark/src/main.ts')], { cwd, env });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stdout += b.toString(); });
  const status = await new Promise<number | null>((r) => child.on('close', r));
  const outputs = readFileSync(output, 'utf8');
  const get = (name: string) => new RegExp(`^${name}<<(\\S+)\\n([\\s\\S]*?)\\n\\1$`, 'm').exec(outputs)?.[2];
  return { status, stdout, get, summary: readFileSync(summary, 'utf8') };
}

describe('actions/run-benchmark', () => {
  it('benchmarks a passing challenger, writes outputs, summary and report, and creates the PR comment', async () => {
    const f = benchFixture();
    const store = tempDir('mg-store-');
    // A human comment that quotes the marker must never be taken over.
    comments = [{ id: 5, body: '<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\nlooks good', user: { login: 'dana', type: 'User' } }];
    calls.length = 0;
    const r = await runAction({ model: 'intent-classifier', version: '2.1.0', 'weights-root': f.weights, 'report-store': store, 'report-path': 'out/report.json', repo: f.repo }, f.repo);
    expect(r.stdout).not.toContain('::error');
    expect(r.status).toBe(0);
    expect(r.get('verdict')).toBe('pass');
    expect(r.get('report-key')).toBe('reports/intent-classifier/2.1.0/cpu.json');
    const report = parseReport(readFileSync(join(store, 'reports/intent-classifier/2.1.0/cpu.json')), 'stored report');
    expect(report.decision.verdict).toBe('pass');
    expect(report.champion).toMatchObject({ version: '2.0.0', selectedAs: 'production' });
    // Interleaved A B A B ..., 6 measured runs each.
    expect(report.runs.map((x) => x.side)).toEqual(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'champion' : 'challenger')));
    expect(report.accuracy.challenger).toBeGreaterThan(report.accuracy.champion!);
    expect(report.accuracy.challenger).toBeGreaterThanOrEqual(0.9);
    expect(report.workload.goldenSetSha256).toBe(f.goldenSha);
    expect(report.runs[0]!.results!.map((x) => x.batchSize)).toEqual([1, 8]);
    expect(report.runs[0]!.metrics).toHaveProperty('latency_p99_ms@8');
    expect(report.decision.comparisons.map((c) => `${c.metric}:${c.kind}:${c.verdict}`)).toEqual(['accuracy:regression:pass', 'accuracy:threshold:pass']);
    expect(readFileSync(join(f.repo, 'out/report.json'), 'utf8')).toBe(readFileSync(join(store, 'reports/intent-classifier/2.1.0/cpu.json'), 'utf8'));
    expect(report.source).toEqual({ repository: 'acme/registry', pullRequest: 7, runUrl: 'https://github.com/acme/registry/actions/runs/99' });
    expect(r.get('artifact-digest')).toBe(report.artifactDigest);
    expect(r.summary).toContain('### Benchmark: intent-classifier 2.0.0 → 2.1.0 — ✅ pass');
    expect(r.summary).toContain('```mermaid\nxychart-beta');
    expect(calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual(['GET /repos/acme/registry/issues/7/comments', 'POST /repos/acme/registry/issues/7/comments']);
    const body = (calls[1]!.body as { body: string }).body;
    expect(body.startsWith('<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\n')).toBe(true);
    expect(body).toMatch(/\| accuracy \| 0\.9\d* \| 0\.99\d* \| \+\d+\.\d% \| ≤ 1% worse; CI \[/);
    expect(comments.find((c) => c.id === 5)!.body).toContain('looks good');
  });

  it('updates its own comment in place, and fails the step when the challenger fails', async () => {
    const f = benchFixture();
    comments = [{ id: 42, body: '<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\nold', user: { login: 'github-actions[bot]', type: 'Bot' } }];
    calls.length = 0;
    const r = await runAction({ model: 'intent-classifier', version: '1.1.0', champion: '2.0.0', 'weights-root': f.weights, repo: f.repo }, f.repo);
    expect(r.status).toBe(1);
    expect(r.get('verdict')).toBe('fail');
    expect(r.stdout).toMatch(/::error::benchmark fail for intent-classifier@1\.1\.0: /);
    expect(calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual(['GET /repos/acme/registry/issues/7/comments', 'PATCH /repos/acme/registry/issues/comments/42']);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('— ❌ fail');
    expect(comments[0]!.body).toMatch(/accuracy median 0\.7\d* violates the threshold >= 0\.9/);
    expect(comments[0]!.body).toMatch(/accuracy regressed -2\d\.\d%/);
    expect(r.summary).toContain('**Why fail:**');
  });

  it('refuses a bad input with a clear message', async () => {
    const f = benchFixture();
    calls.length = 0;
    const r = await runAction({ model: 'intent-classifier', version: '2.1.0', 'weights-root': f.weights, repo: f.repo, runs: 'many' }, f.repo);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::input runs must be a whole number >= 1, got "many"');
    expect(calls).toHaveLength(0);
  });
});
