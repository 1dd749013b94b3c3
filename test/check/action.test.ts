// actions/check-semver with the real runner contract: INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, a pull_request event file, and GITHUB_API_URL pointing at a local HTTP
// server that stands in for the GitHub REST API and records every request.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, cleanupRepos, makeRepo, newVersion, type TestRepo } from './repo.ts';

interface Recorded { method: string; url: string; auth: string | undefined; body: unknown }
interface Comment { id: number; body: string; user: { login: string } }

/** Just enough of the issues-comments API: list, create, update. */
class FakeGitHub {
  readonly requests: Recorded[] = [];
  comments: Comment[] = [];
  private server!: Server;
  private nextId = 1000;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> { return new Promise((resolve) => this.server.close(() => resolve())); }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) as { body?: string } : undefined;
    this.requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    const path = new URL(req.url!, this.url).pathname;
    if (path.startsWith('/forbidden/')) return [403, { message: 'Resource not accessible by integration' }];
    if (req.method === 'GET' && path === '/repos/acme/models/issues/7/comments') return [200, this.comments];
    if (req.method === 'POST' && path === '/repos/acme/models/issues/7/comments') {
      const c = { id: this.nextId++, body: body!.body!, user: { login: 'github-actions[bot]' } };
      this.comments.push(c);
      return [201, c];
    }
    const m = /^\/repos\/acme\/models\/issues\/comments\/(\d+)$/.exec(path);
    if (req.method === 'PATCH' && m) {
      const c = this.comments.find((x) => x.id === Number(m[1]));
      if (!c) return [404, { message: 'Not Found' }];
      c.body = body!.body!;
      return [200, c];
    }
    return [404, { message: `no route for ${req.method} ${path}` }];
  }
}

interface ActionRun { code: number | null; stdout: string; outputs: Record<string, string>; summary: string }

const work = mkdtempSync(join(tmpdir(), 'mg-action-'));
let runs = 0;

/** Runs `node actions/check-semver/src/main.ts` as the runner would, in the repository's folder. */
async function runAction(repo: TestRepo, api: string, inputs: Record<string, string>): Promise<ActionRun> {
  const n = runs++;
  const output = join(work, `output-${n}`);
  const summary = join(work, `summary-${n}`);
  const event = join(work, `event-${n}.json`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  writeFileSync(event, JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7, base: { sha: repo.base, ref: 'main' }, head: { sha: 'f'.repeat(40) } }, repository: { name: 'models', owner: { login: 'acme' } } }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_REPOSITORY: 'acme/models',
    GITHUB_API_URL: api, GITHUB_SERVER_URL: 'https://github.com', GITHUB_WORKSPACE: repo.dir,
    GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, NO_PROXY: '127.0.0.1',
  };
  // The runner turns each input name into INPUT_<NAME upper-cased>, keeping hyphens: INPUT_GITHUB-TOKEN.
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(process.execPath, [join(ROOT, 'actions/check-semver/src/main.ts')], { cwd: repo.dir, env });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stdout += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, outputs: parseOutputs(readFileSync(output, 'utf8')), summary: readFileSync(summary, 'utf8') };
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

const api = new FakeGitHub();
beforeAll(() => api.start());
afterAll(async () => { await api.stop(); cleanupRepos(); rmSync(work, { recursive: true, force: true }); });

const inputs = { repo: '.', base: '', 'github-token': 'ghs_test', comment: 'true' };

describe('actions/check-semver', { timeout: 30_000 }, () => {
  it('annotates violations, fails, writes summary and outputs, and creates then updates one comment', async () => {
    const repo = makeRepo();
    const file = newVersion(repo, 'intent-classifier', '2.1.0', '2.1.1', [
      ['7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180', 'ab'.repeat(32)],
      ['labels: [greet, order, cancel_order, other]', 'labels: [greet, order, cancel_order]'],
    ]);
    // A comment from someone else is left alone.
    api.comments = [{ id: 1, body: 'LGTM', user: { login: 'dana' } }];

    const first = await runAction(repo, api.url, inputs);
    expect(first.code).toBe(1);
    const line = repo.lineOf(file, 'version: 2.1.1');
    expect(first.stdout).toContain(`::error title=model-gitops semver-bump%3A version,file=${file},line=${line},col=10::intent-classifier 2.1.1 is a patch bump over 2.1.0, but its changes need a major bump (e.g. 3.0.0):%0A`);
    expect(first.stdout).toMatch(/::error::1 violation against [0-9a-f]{12}/);
    expect(first.outputs).toMatchObject({ result: 'fail', errors: '1', changes: '1' });
    expect(JSON.parse(first.outputs.report!).semver[0]).toMatchObject({ version: '2.1.1', required: 'major', actual: 'patch' });
    expect(first.summary).toContain('## model-gitops check failed');
    expect(first.summary).toContain('| `interface.outputs.label.labels` | label "other" removed | major |');

    const created = api.requests.filter((r) => r.method !== 'GET');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ method: 'POST', url: '/repos/acme/models/issues/7/comments', auth: 'token ghs_test' });
    expect(api.comments).toHaveLength(2);
    const mine = api.comments[1]!;
    expect(mine.body.startsWith('<!-- model-gitops:check-semver -->')).toBe(true);
    expect(mine.body).toContain(`\`${file}:${line}\` | \`semver-bump\``);
    expect(first.outputs['comment-id']).toBe(String(mine.id));

    // The author fixes the bump and pushes: the same comment is updated, no second one appears.
    repo.move(file, 'models/intent-classifier/versions/3.0.0.yaml');
    repo.edit('models/intent-classifier/versions/3.0.0.yaml', 'version: 2.1.1', 'version: 3.0.0');
    api.requests.length = 0;
    const second = await runAction(repo, api.url, inputs);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('::error');
    expect(second.outputs).toMatchObject({ result: 'pass', errors: '0', 'comment-id': String(mine.id) });
    expect(api.requests.map((r) => `${r.method} ${new URL(r.url, api.url).pathname}`)).toEqual([
      'GET /repos/acme/models/issues/7/comments',
      `PATCH /repos/acme/models/issues/comments/${mine.id}`,
    ]);
    expect(api.comments).toHaveLength(2);
    expect(api.comments[0]!.body).toBe('LGTM');
    expect(api.comments[1]!.body).toContain('## model-gitops check passed');
    expect(api.comments[1]!.body).toContain('| intent-classifier | 3.0.0 | major over 2.1.0, needs major |');
  });

  it('reads the base from the pull_request event when the input is empty, and skips the comment when asked', async () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', 'weight: 5%', 'weight: 10%');
    api.requests.length = 0;
    const r = await runAction(repo, api.url, { ...inputs, comment: 'false' });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ result: 'pass', changes: '1', 'comment-id': '' });
    expect(r.summary).toContain('- intent-classifier in production: canary weight 5% -> 10%');
    expect(api.requests).toEqual([]);
  });

  it('still annotates and fails when the comment cannot be written (read-only token of a fork)', async () => {
    const repo = makeRepo();
    repo.edit('models/intent-classifier/versions/2.0.0.yaml', 'family: mlp', 'family: bert');
    const r = await runAction(repo, `${api.url}/forbidden`, inputs);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error title=model-gitops immutable-field%3A architecture.family,file=models/intent-classifier/versions/2.0.0.yaml,line=9');
    expect(r.stdout).toContain('::warning::could not write the pull-request comment: Resource not accessible by integration');
  });
});
