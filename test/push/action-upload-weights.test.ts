// actions/upload-weights run as GitHub runs it: the committed bundle, INPUT_* variables, and the
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files of the runner contract. Credentials must be masked before
// anything could print them, and never printed by the action itself.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, ROOT, tempDir } from '../helpers.ts';
import { createBucket, removeBucket } from '../helpers/s3.ts';
import { fixture } from './fixture.ts';

let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('action');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

interface ActionRun {
  status: number | null;
  stdout: string;
  stderr: string;
  outputs: string;
  summary: string;
}

function runAction(
  workspace: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  const dir = tempDir('mg-runner-');
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_WORKSPACE: workspace,
  };
  for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'])
    if (process.env[k]) base[k] = process.env[k]!;
  for (const [k, v] of Object.entries(inputs)) base[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(ROOT, 'actions/upload-weights/dist/index.js')], {
      cwd: workspace,
      env: { ...base, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('close', (status) =>
      resolve({
        status,
        stdout,
        stderr,
        outputs: readFileSync(output, 'utf8'),
        summary: readFileSync(summary, 'utf8'),
      }),
    );
  });
}

function outputValue(file: string, name: string): string | undefined {
  const m = new RegExp(`^${name}<<(\\S+)\\n([\\s\\S]*?)\\n\\1$`, 'm').exec(file);
  return m?.[2];
}

/** Each secret is registered with ::add-mask:: before any other line, and appears nowhere else. */
function expectMasked(r: ActionRun, secrets: string[]): void {
  const lines = r.stdout.split('\n');
  for (const s of secrets) {
    // Workflow-command data is escaped (% \r \n); the runner decodes it before masking.
    const escaped = s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    const maskLine = lines.indexOf(`::add-mask::${escaped}`);
    expect(maskLine, `::add-mask:: for a secret`).toBeGreaterThanOrEqual(0);
    // every line before the mask is itself a mask registration
    expect(lines.slice(0, maskLine).every((l) => l.startsWith('::add-mask::'))).toBe(true);
    const elsewhere = lines.filter((l, i) => i !== maskLine && l.includes(s));
    expect(elsewhere).toEqual([]);
    expect(r.stderr).not.toContain(s);
    expect(r.outputs).not.toContain(s);
    expect(r.summary).not.toContain(s);
  }
}

const inputs = (f: ReturnType<typeof fixture>, extra: Record<string, string> = {}) => ({
  path: f.dir('intent-classifier', '2.1.0'),
  model: 'intent-classifier',
  version: '2.2.0',
  repo: '.',
  summary: 'Retrained on July intents.',
  parent: '2.1.0',
  ...extra,
});

describe('actions/upload-weights', () => {
  it('uploads to S3, writes the card, reports files/bytes/throughput, and masks the secret key', async () => {
    const f = fixture();
    const secret = process.env.AWS_SECRET_ACCESS_KEY!;
    const env = {
      GITHUB_REPOSITORY: 'acme/trainer',
      GITHUB_SHA: 'ab'.repeat(20),
      AWS_SESSION_TOKEN: 'fake-session-token-123',
    };
    const r = await runAction(f.repo, inputs(f, { store: `s3://${bucket}/a1` }), env);
    expect(r.status, r.stdout).toBe(0);
    expectMasked(r, [secret, 'fake-session-token-123']);
    expect(r.stdout).toContain('code-repo not set: a new card records GITHUB_REPOSITORY (acme/trainer)');
    expect(readFileSync(join(f.repo, 'models/intent-classifier/versions/2.2.0.yaml'), 'utf8')).toContain(
      `code: {repository: acme/trainer, commit: ${'ab'.repeat(20)}}`,
    );
    expect(outputValue(r.outputs, 'card-path')).toBe('models/intent-classifier/versions/2.2.0.yaml');
    expect(outputValue(r.outputs, 'card-status')).toBe('created');
    expect(outputValue(r.outputs, 'files')).toBe('3');
    expect(outputValue(r.outputs, 'bytes-sent')).toBe('37894');
    expect(outputValue(r.outputs, 'bytes-deduplicated')).toBe('0');
    expect(Number(outputValue(r.outputs, 'throughput'))).toBeGreaterThan(0);
    expect(r.summary).toContain(
      '<th>Files</th><th>Bytes</th><th>Bytes sent</th><th>Bytes deduplicated</th><th>Throughput</th>',
    );
    expect(r.summary).toMatch(
      /<td>3<\/td><td>37\.0 KiB<\/td><td>37\.0 KiB<\/td><td>0 B<\/td><td>[\d.]+ [KM]iB\/s<\/td>/,
    );

    // Again: everything deduplicated, nothing sent, the card unchanged.
    const again = await runAction(f.repo, inputs(f, { store: `s3://${bucket}/a1` }), env);
    expect(again.status, again.stdout).toBe(0);
    expect(outputValue(again.outputs, 'bytes-sent')).toBe('0');
    expect(outputValue(again.outputs, 'bytes-deduplicated')).toBe('37894');
    expect(outputValue(again.outputs, 'card-status')).toBe('unchanged');
  });

  it('never prints a secret, even when the credentials are wrong or sit in the store URL', async () => {
    const f = fixture();
    const fake = 'FAKEsecretKEY/abc+123xyz';
    const wrong = await runAction(
      f.repo,
      inputs(f, { store: `s3://${bucket}/a2`, 'code-repo': 'a/b', 'code-commit': 'cd'.repeat(20) }),
      { AWS_SECRET_ACCESS_KEY: fake },
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toMatch(/^::error::/m);
    expectMasked(wrong, [fake]);

    const inUrl = await runAction(f.repo, inputs(f, { store: 's3://AKIAEXAMPLE:url%2Fsecret@bucket/x' }), {
      AWS_SECRET_ACCESS_KEY: fake,
    });
    expect(inUrl.status).toBe(1);
    expect(inUrl.stdout).toContain('::error::store URL s3://***@bucket/x carries credentials');
    expectMasked(inUrl, [fake, 'url%2Fsecret', 'url/secret', 'AKIAEXAMPLE']);
  });

  it('dry run to a folder store sends and writes nothing; commit-card commits the card', async () => {
    const f = fixture({ git: true });
    const store = join(tempDir('mg-store-'), 's');
    const dry = await runAction(
      f.repo,
      inputs(f, { store, 'dry-run': 'true', 'code-repo': 'a/b', 'code-commit': 'cd'.repeat(20) }),
    );
    expect(dry.status, dry.stdout).toBe(0);
    expect(outputValue(dry.outputs, 'bytes-sent')).toBe('0');
    expect(dry.summary).toContain('(dry run)');
    expect(dry.summary).toContain('would be created');
    // (.model-gitops/, the local hash cache, is git-ignored in the template; this bare test repo has no .gitignore)
    expect(
      execFileSync('git', ['status', '--porcelain', '--', 'models', 'environments'], { cwd: f.repo, encoding: 'utf8' }),
    ).toBe('');
    expect(readFileSync(join(f.repo, 'models/intent-classifier/versions/2.1.0.yaml'), 'utf8')).toBeTruthy();

    const r = await runAction(
      f.repo,
      inputs(f, { store, 'commit-card': 'true', 'code-repo': 'a/b', 'code-commit': 'cd'.repeat(20) }),
    );
    expect(r.status, r.stdout).toBe(0);
    const commit = outputValue(r.outputs, 'commit');
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(
      execFileSync('git', ['show', '--name-only', '--format=%s', commit!], { cwd: f.repo, encoding: 'utf8' }),
    ).toBe(
      'intent-classifier 2.2.0: created card from upload-weights\n\nmodels/intent-classifier/versions/2.2.0.yaml\n',
    );
  });

  it('refuses pickle weights unless allow-pickle is true, then marks them; a bad base-relation names the input', async () => {
    const f = fixture();
    const dir = tempDir('mg-pickle-');
    cpSync(f.dir('intent-classifier', '2.1.0'), dir, { recursive: true });
    // A zip-format torch.save file starts like this; nothing ever loads it.
    writeFileSync(join(dir, 'training_state.pt'), Buffer.from('PK\x03\x04archive/data.pkl', 'latin1'));
    const store = join(tempDir('mg-store-'), 's');
    const code = { 'code-repo': 'a/b', 'code-commit': 'cd'.repeat(20) };
    const refused = await runAction(f.repo, inputs(f, { path: dir, store, ...code }));
    expect(refused.status).toBe(1);
    expect(refused.stdout).toMatch(/::error::.*training_state\.pt.*pickle/);
    expect(refused.stdout).toContain('--allow-pickle');

    const badRelation = await runAction(f.repo, inputs(f, { path: dir, store, ...code, 'base-relation': 'fork' }));
    expect(badRelation.status).toBe(1);
    expect(badRelation.stdout).toContain(
      'input base-relation "fork" must be one of adapter, merge, quantized, finetune',
    );

    const allowed = await runAction(f.repo, inputs(f, { path: dir, store, ...code, 'allow-pickle': 'true' }));
    expect(allowed.status, allowed.stdout).toBe(0);
    const card = readFileSync(join(f.repo, 'models/intent-classifier/versions/2.2.0.yaml'), 'utf8');
    expect(card).toMatch(/\{path: training_state\.pt, .*pickle: true\}/);
  });

  it('fails with the missing fields of a new card', async () => {
    const f = fixture();
    const r = await runAction(f.repo, {
      path: f.dir('intent-classifier', '2.1.0'),
      model: 'intent-classifier',
      version: '2.2.0',
      store: join(tempDir('mg-store-'), 's'),
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      '::error::models/intent-classifier/versions/2.2.0.yaml would be a new card, and these fields are still missing:',
    );
  });
});
