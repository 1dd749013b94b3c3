// `model-gitops push` against the embedded default store (a folder under the repo), through the real CLI.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import { tempDir } from '../helpers.ts';
import type { CliResult } from '../helpers.ts';
import { CARD_FLAGS, COMMIT, fixture, folderStoreKeys } from './fixture.ts';

const CARD = 'models/intent-classifier/versions/2.2.0.yaml';
const push = ['push', '--model', 'intent-classifier', '--version', '2.2.0'];

describe('push to the default folder store', () => {
  it('writes a new, valid card from the weights and the flags; a re-push sends nothing and changes nothing', () => {
    const f = fixture();
    const r = f.cli([...push, f.dir('intent-classifier', '2.1.0'), ...CARD_FLAGS]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`created ${CARD}`);
    const card = readFileSync(join(f.repo, CARD), 'utf8');
    expect(card.split('\n')[0]).toBe('# yaml-language-server: $schema=../../../schemas/model-version.schema.json');
    expect(card).toContain('summary: Retrained on July intents.');
    // interface copied from the parent, layout kept; architecture from the safetensors header and config.json
    expect(card).toContain(
      '  outputs: [{name: label, dtype: string, shape: [batch], labels: [greet, order, cancel_order, other]}]',
    );
    expect(card).toContain('architecture: {family: mlp, parameters: 9344, format: safetensors, dtype: f32}');
    expect(card).toContain(
      '  - {path: model.safetensors, sha256: 7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180, size: 37640}',
    );
    expect(card).toContain(
      `  parent: intent-classifier@2.1.0\n  code: {repository: acme/slm-training, commit: ${COMMIT}}`,
    );
    expect(f.cli(['validate']).status).toBe(0);
    const keys = folderStoreKeys(join(f.repo, '.model-gitops/store'));
    expect(keys.filter((k) => k.startsWith('blobs/'))).toHaveLength(3);
    expect(keys.filter((k) => k.startsWith('indexes/'))).toHaveLength(1);

    const again = f.cli([...push, f.dir('intent-classifier', '2.1.0'), '--json']);
    expect(again.status).toBe(0);
    const j = JSON.parse(again.stdout);
    expect(j.totals.sentBytes).toBe(0);
    expect(j.files.every((x: { deduplicated: boolean; sent: number }) => x.deduplicated && x.sent === 0)).toBe(true);
    expect(j.totals.deduplicatedBytes).toBe(j.totals.bytes);
    expect(j.card).toMatchObject({ path: CARD, status: 'unchanged', written: false });
    expect(readFileSync(join(f.repo, CARD), 'utf8')).toBe(card);
  });

  it('updates an existing card in place: artifacts and architecture only, comments and layout kept', async () => {
    const f = fixture();
    const path = join(f.repo, 'models/intent-classifier/versions/2.1.0.yaml');
    const before = readFileSync(path, 'utf8')
      .replace('artifacts:', '# Weights are re-exported by the nightly job.\nartifacts: # every file\n')
      .replace('metrics:', 'metrics: # offline eval, July run\n ')
      .replace('metrics: # offline eval, July run\n  {', 'metrics: # offline eval, July run\n  {');
    writeFileSync(path, before);
    // New weights for the same version: 2.0.0's model file, plus one more file.
    const dir = f.dir('intent-classifier', '2.0.0');
    writeFileSync(join(dir, 'generation_config.json'), '{"max_new_tokens": 1}\n');
    const r = await f.run(['push', dir, '--model', 'intent-classifier', '--version', '2.1.0', '--summary', 'ignored']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('only its artifacts and architecture format/parameters/dtype are updated');
    const after = readFileSync(path, 'utf8');
    expect(after).toContain('# Weights are re-exported by the nightly job.\nartifacts: # every file\n');
    expect(after).toContain('metrics: # offline eval, July run');
    expect(after).toContain('hyperparameters: {learning_rate: 0.05, epochs: 8, seed: 202606}'); // numbers keep their spelling
    expect(after).toContain('summary: Retrained on June intents; fewer "other" mistakes on short messages.');
    // Only the changed artifact line differs, and the new file is appended in the same style.
    const a = before.split('\n');
    const b = after.split('\n');
    const removed = a.filter((l) => !b.includes(l));
    const added = b.filter((l) => !a.includes(l));
    expect(removed).toEqual([
      '  - {path: model.safetensors, sha256: 7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180, size: 37640}',
    ]);
    expect(added).toEqual([
      '  - {path: model.safetensors, sha256: 8f0cf9aeb20fc941c914aeba5ccfee3450d4fc45039ad0a37bfce44bae20dd94, size: 37640}',
      expect.stringMatching(/^ {2}- \{path: generation_config\.json, sha256: [0-9a-f]{64}, size: 22\}$/),
    ]);
    expect((await f.run(['validate'])).status).toBe(0);
  });

  it('refuses a new card with missing information before uploading anything, naming each field', async () => {
    const f = fixture();
    const r = await f.run([...push, f.dir('intent-classifier', '2.1.0'), '--summary', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${CARD} would be a new card, and these fields are still missing:`);
    for (const field of ['interface', 'lineage.code.repository', 'lineage.code.commit'])
      expect(r.stderr).toMatch(new RegExp(`^  ${field.replace('.', '\\.')} +--`, 'm'));
    expect(r.stderr).not.toMatch(/^ {2}summary /m);
    expect(r.stderr).toContain('Nothing was uploaded or written.');
    expect(existsSync(join(f.repo, CARD))).toBe(false);
    expect(folderStoreKeys(join(f.repo, '.model-gitops/store'))).toEqual([]);
  });

  it('--draft writes placeholders that fail validation until they are filled in', async () => {
    const f = fixture();
    const r = await f.run([...push, f.dir('intent-classifier', '2.1.0'), '--draft']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('draft: fill in summary, interface, lineage.code.repository, lineage.code.commit');
    const card = readFileSync(join(f.repo, CARD), 'utf8');
    expect(card).toContain('summary: null # TODO(model-gitops push):');
    const v = await f.run(['validate']);
    expect(v.status).toBe(1);
    expect(v.stdout).toContain(`${CARD}:4:10  summary`);
  });

  it('does not write a card that would leave the registry invalid, and says the uploaded blobs are harmless', async () => {
    const f = fixture();
    const r = await f.run([
      ...push,
      f.dir('intent-classifier', '2.1.0'),
      ...CARD_FLAGS,
      '--interface-from',
      '2.1.0',
      '--parent',
      '9.9.9',
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${CARD}:`);
    expect(r.stderr).toContain('parent intent-classifier@9.9.9 does not exist');
    expect(r.stderr).toContain('the card was not written');
    expect(r.stderr).toContain('harmless');
    expect(existsSync(join(f.repo, CARD))).toBe(false);
  });

  it('--dry-run hashes and looks up only: nothing sent, nothing written', async () => {
    const f = fixture();
    const r = await f.run([...push, f.dir('intent-classifier', '2.1.0'), ...CARD_FLAGS, '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run against file://');
    expect(r.stdout).toMatch(/model\.safetensors +36\.8 KiB +would send/);
    expect(r.stdout).toContain(`would create ${CARD}`);
    expect(existsSync(join(f.repo, CARD))).toBe(false);
    expect(folderStoreKeys(join(f.repo, '.model-gitops/store'))).toEqual([]);
  });

  it('--json prints one object with files, card, totals and throughput', async () => {
    const f = fixture();
    const r = await f.run([...push, f.dir('intent-classifier', '2.1.0'), ...CARD_FLAGS, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual([
      'card',
      'diagnostics',
      'dryRun',
      'errors',
      'files',
      'model',
      'notes',
      'seconds',
      'store',
      'throughputBytesPerSecond',
      'totals',
      'valid',
      'version',
    ]);
    expect(j.files).toEqual([
      {
        path: 'config.json',
        size: 220,
        sha256: 'd7a9ad12c7df7be0d6ceefcc121cddae615ddef4f5bc4d6a0e83d318f357e113',
        sent: 220,
        deduplicated: false,
        resumed: 0,
      },
      {
        path: 'model.safetensors',
        size: 37640,
        sha256: '7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180',
        sent: 37640,
        deduplicated: false,
        resumed: 0,
      },
      {
        path: 'tokenizer.json',
        size: 34,
        sha256: '85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f',
        sent: 34,
        deduplicated: false,
        resumed: 0,
      },
    ]);
    expect(j.card).toEqual({
      path: CARD,
      status: 'created',
      written: true,
      draft: false,
      changes: [],
      placeholders: [],
    });
    expect(j.totals).toEqual({
      files: 3,
      bytes: 37894,
      sentBytes: 37894,
      deduplicatedBytes: 0,
      resumedBytes: 0,
      toSendBytes: 0,
    });
    expect(j.throughputBytesPerSecond).toBeGreaterThan(0);
    expect(j).toMatchObject({ model: 'intent-classifier', version: '2.2.0', dryRun: false, valid: true, errors: 0 });
  });

  it('takes the training commit and repository from --code-dir', async () => {
    const f = fixture();
    const code = tempDir('mg-code-');
    const g = (...a: string[]) => execFileSync('git', a, { cwd: code, encoding: 'utf8' });
    g('init', '-q');
    g('remote', 'add', 'origin', 'git@github.com:acme/trainer.git');
    writeFileSync(join(code, 'train.py'), 'print(1)\n');
    g('add', '.');
    g('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'x');
    const head = g('rev-parse', 'HEAD').trim();
    const r = await f.run([
      ...push,
      f.dir('intent-classifier', '2.1.0'),
      '--summary',
      's',
      '--parent',
      '2.1.0',
      '--code-dir',
      code,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(f.repo, CARD), 'utf8')).toContain(`code: {repository: acme/trainer, commit: ${head}}`);
  });

  it('refuses symlinks out of the folder and files that are not regular files, before uploading', async () => {
    const f = fixture();
    const dir = f.dir('intent-classifier', '2.1.0');
    const outside = join(tempDir('mg-outside-'), 'secret.txt');
    writeFileSync(outside, 'not yours');
    symlinkSync(outside, join(dir, 'leak.txt'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    const r = await f.run([...push, dir, ...CARD_FLAGS]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('leak.txt: symlink points outside the model folder');
    expect(r.stderr).toContain('pipe: not a regular file (a FIFO)');
    expect(folderStoreKeys(join(f.repo, '.model-gitops/store'))).toEqual([]);
  });

  it('reads dtype and parameters of a bf16 checkpoint and the family from config.json', async () => {
    const f = fixture();
    const dir = tempDir('mg-bf16-');
    writeFileSync(
      join(dir, 'model.safetensors'),
      encodeSafetensors([
        { name: 'w', dtype: 'BF16', shape: [4, 8], data: new Uint8Array(64) },
        { name: 'b', dtype: 'F32', shape: [2], data: new Uint8Array(8) },
      ]),
    );
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    mkdirSync(join(f.repo, 'models/new-model/versions'), { recursive: true });
    writeFileSync(
      join(f.repo, 'models/new-model/model.yaml'),
      readFileSync(join(f.repo, 'models/intent-classifier/model.yaml'), 'utf8').replace(
        /^name: .*$/m,
        'name: new-model',
      ),
    );
    const r = await f.run([
      'push',
      dir,
      '--model',
      'new-model',
      '--version',
      '0.1.0',
      '--summary',
      's',
      '--interface-from',
      'intent-classifier@2.1.0',
      '--code-repo',
      'a/b',
      '--code-commit',
      COMMIT,
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(f.repo, 'models/new-model/versions/0.1.0.yaml'), 'utf8')).toContain(
      'architecture: {family: bert, parameters: 34, format: safetensors, dtype: bf16}',
    );
  });

  it('usage errors exit 2', async () => {
    const f = fixture();
    const dir = f.dir('intent-classifier', '2.1.0');
    const cases: [string[], string][] = [
      [['push', dir, '--version', '1.0.0'], '--model is required'],
      [['push', '--model', 'm', '--version', '1.0.0'], 'expected exactly one model folder'],
      [['push', dir, '--model', 'intent-classifier'], '--version is required'],
      [['push', dir, '--model', 'intent-classifier', '--version', 'v1'], 'is not a semantic version'],
      [['push', dir, '--model', 'Bad_Name', '--version', '1.0.0'], 'is not a valid model name'],
      [['push', dir, '--model', 'intent-classifier', '--version', '1.0.0', '--bogus'], "Unknown option '--bogus'"],
      [
        ['push', join(dir, 'nope'), '--model', 'intent-classifier', '--version', '3.0.0', ...CARD_FLAGS],
        'does not exist',
      ],
      [
        [
          'push',
          dir,
          '--model',
          'intent-classifier',
          '--version',
          '3.0.0',
          '--code-commit',
          'abc',
          ...CARD_FLAGS.slice(0, 6),
        ],
        '--code-commit "abc" must be a full commit id',
      ],
      [
        ['push', dir, '--model', 'intent-classifier', '--version', '3.0.0', '--store', 's3://AKIA:hunter2@bucket/p'],
        'carries credentials',
      ],
      [['verify', 'extra'], 'unexpected argument'],
      [['verify', '--model', 'nope'], 'no model "nope"'],
      [['verify', '--store', 'ftp://x/y'], 'unsupported store URL'],
    ];
    const results: CliResult[] = [];
    for (const [args] of cases) results.push(await f.run(args));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain('hunter2');
    }
    expect((await f.run(['push', '--help'])).status).toBe(0);
  });
});
