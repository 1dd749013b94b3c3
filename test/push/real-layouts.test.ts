// Model folders shaped as ML engineers ship them (test/helpers/model-layouts.ts) go through
// push -> publish -> sync: a sharded Llama with its index, the same re-sharded, a Hugging Face cache
// snapshot, a PEFT adapter on its base, a GGUF v3 file, nested sentence-transformers folders, Trainer
// output with DVC data; the device ends with byte-identical folders. Folders that cannot be trusted or
// loaded (incomplete checkpoints, git-LFS pointers, pickles) are refused before anything is uploaded,
// each refusal asserted on its message.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishRegistry } from '../../src/publish/index.ts';
import { sha256Hex } from '../../src/lib/hash.ts';
import { tempDir, write as writeRepo } from '../helpers.ts';
import {
  CHAT_TEMPLATE,
  LLAMA,
  REVISION,
  ggufModel,
  lfsPointer,
  llamaConfigFiles,
  llamaParameters,
  llamaTensors,
  pickleMagic,
  shardFiles,
  torchZipMagic,
  trainerFiles,
  write,
  writeHfCache,
  writePeftAdapter,
  writeSentenceTransformers,
  writeShardedLlama,
} from '../helpers/model-layouts.ts';
import { cli, makeFixture, type Fixture } from '../publish/helpers.ts';
import { fixture, folderStoreKeys, runInProcess } from './fixture.ts';

const COMMIT = 'c0ffee0123456789abcdef0123456789abcdef99';
const CODE = ['--code-repo', 'acme/slm-training', '--code-commit', COMMIT];

function modelYaml(repo: string, name: string, task = 'text-generation'): void {
  writeRepo(
    repo,
    `models/${name}/model.yaml`,
    `name: ${name}\nowners: ["@acme/ml-platform"]\ntask: ${task}\ndescription: A ${name} for tests.\n`,
  );
}

/** Every regular file under `dir` (symlinks followed) as path -> sha256, minus `skip`. */
function digests(dir: string, skip: (path: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const rel = relative(dir, p).split('\\').join('/');
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[rel] = sha256Hex(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const litter = (p: string) => p === '.cache' || p === '.gitattributes' || p === 'training_args.bin';

async function push(
  fx: { repo: string; storeUrl?: string },
  dir: string,
  model: string,
  version: string,
  flags: string[],
) {
  const r = await runInProcess([
    'push',
    dir,
    '--model',
    model,
    '--version',
    version,
    '--repo',
    fx.repo,
    ...(fx.storeUrl ? ['--store', fx.storeUrl] : []),
    '--json',
    ...flags,
  ]);
  return { ...r, json: r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : undefined };
}

function card(repo: string, model: string, version: string): string {
  return readFileSync(join(repo, 'models', model, 'versions', `${version}.yaml`), 'utf8');
}

async function publishAndSync(fx: Fixture, env: string, models: Record<string, string>): Promise<string> {
  const envFile = join(fx.repo, 'environments', `${env}.yaml`);
  writeFileSync(
    envFile,
    readFileSync(envFile, 'utf8') +
      Object.entries(models)
        .map(([m, v]) => `  ${m}: ${v}\n`)
        .join(''),
  );
  fx.git('add', 'models', 'environments');
  fx.git('commit', '-q', '-m', 'real layouts');
  await publishRegistry({
    repo: fx.repo,
    store: fx.store,
    keys: fx.keys,
    source: { repository: 'acme/models', commit: fx.head() },
  });
  const device = tempDir('mg-device-');
  const r = await cli([
    'sync',
    '--manifest',
    fx.storeUrl,
    '--trust',
    fx.rootFile,
    '--environment',
    env,
    '--dir',
    device,
    '--json',
  ]);
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return device;
}

const current = (device: string, model: string) => join(device, 'models', model, 'current');

describe('real layouts: push -> publish -> sync (folder store)', () => {
  it('sharded, re-sharded, hub cache snapshot, PEFT adapter, GGUF, sentence-transformers and Trainer output arrive byte for byte', {
    timeout: 120_000,
  }, async () => {
    const fx = await makeFixture('folder', 'layouts');
    for (const m of ['tiny-llama', 'support-lora', 'tiny-llama-gguf']) modelYaml(fx.repo, m);
    modelYaml(fx.repo, 'embedder', 'embedding');

    // 1. A training job's output: sharded Llama, Trainer files, a DVC entry, download litter.
    const trained = tempDir('mg-trained-');
    writeShardedLlama(trained);
    write(trained, trainerFiles());
    const p1 = await push(fx, trained, 'tiny-llama', '1.0.0', ['--summary', 'First tiny Llama.', ...CODE]);
    expect(p1.status, p1.stderr).toBe(0);
    expect(p1.json.files.map((f: { path: string }) => f.path)).not.toContain('.gitattributes');
    const c1 = card(fx.repo, 'tiny-llama', '1.0.0');
    expect(c1).toContain(
      `architecture: {family: llama, parameters: ${llamaParameters()}, format: safetensors, dtype: bf16}`,
    );
    expect(c1).toContain('license: apache-2.0\nlanguage: [en, de]\npipelineTag: text-generation\n');
    expect(c1).toContain('  inputs: [{name: prompt, dtype: string}]\n  outputs: [{name: text, dtype: string}]\n');
    expect(c1).toContain(`  chatTemplate: {sha256: ${sha256Hex(CHAT_TEMPLATE)}, source: tokenizer_config.json}`);
    expect(c1).toContain(`configSha256: ${sha256Hex(llamaConfigFiles()['tokenizer_config.json']!)}}`);
    expect(c1).toContain('    - {name: support-chats, uri: support-chats, md5: 3f2a9c0d4e5b6a7980f1e2d3c4b5a697.dir}');
    expect(c1).toContain('  hyperparameters: {epochs: 3, global_step: 120, max_steps: 120, train_batch_size: 8}');
    expect(c1).toContain('  training: {duration_s: 512.5}');
    expect(c1).toContain('metrics: {accuracy: 0.912, best_metric: 0.91, loss: 0.3, train_loss: 0.42}');
    expect(c1).not.toMatch(/\.cache|\.gitattributes|training_args/);
    // README.md names acme/support-chats; the DVC entry gives its digest, so nothing is left unrecorded.
    expect(p1.json.notes.join('\n')).not.toContain('without a digest');

    // 2. The same tensors re-sharded in three files, from a hub cache snapshot (symlinks into ../../blobs).
    const cache = tempDir('mg-hfcache-');
    const snap = writeHfCache(cache, 'acme/tiny-llama', {
      ...shardFiles(llamaTensors(), 3),
      ...llamaConfigFiles(),
      '.gitattributes': '*.safetensors filter=lfs\n',
    });
    const p2 = await push(fx, snap, 'tiny-llama', '1.1.0', [
      '--summary',
      'Re-sharded from the hub.',
      '--parent',
      '1.0.0',
      ...CODE,
    ]);
    expect(p2.status, p2.stderr).toBe(0);
    const c2 = card(fx.repo, 'tiny-llama', '1.1.0');
    expect(c2).toContain(`  source: {hub: huggingface, repo: acme/tiny-llama, revision: ${REVISION}}`);
    expect(c2).toContain(`parameters: ${llamaParameters()}`);
    expect(c2).toContain('model-00003-of-00003.safetensors');
    expect(p2.json.notes).toContain(
      'README.md names dataset acme/support-chats without a digest: not recorded in lineage.datasets (add a .dvc file, or the entry with its sha256)',
    );

    // 3. A PEFT adapter whose base_model_name_or_path is the hub repo tiny-llama was imported from.
    const adapter = tempDir('mg-adapter-');
    writePeftAdapter(adapter, 'acme/tiny-llama');
    const p3 = await push(fx, adapter, 'support-lora', '1.0.0', [
      '--summary',
      'Support tone LoRA.',
      '--interface-from',
      'tiny-llama@1.1.0',
      '--family',
      'llama',
      ...CODE,
    ]);
    expect(p3.status, p3.stderr).toBe(0);
    const c3 = card(fx.repo, 'support-lora', '1.0.0');
    expect(c3).toContain('base: {model: tiny-llama, range: ^1.1.0, relation: adapter}');
    expect(c3).toContain(
      'hyperparameters: {lora_alpha: 8, lora_r: 4, peft_type: LORA, target_modules: "q_proj,v_proj"}',
    );
    expect(c3).not.toContain('dependencies');

    // 4. GGUF v3, F32 + Q8_0, quantized from tiny-llama.
    const gguf = tempDir('mg-gguf-');
    write(gguf, { 'tiny-llama.Q8_0.gguf': ggufModel() });
    const p4 = await push(fx, gguf, 'tiny-llama-gguf', '1.0.0', [
      '--summary',
      'Q8_0 for llama.cpp.',
      '--interface-from',
      'tiny-llama@1.1.0',
      '--base',
      'tiny-llama@^1.1.0',
      '--base-relation',
      'quantized',
      ...CODE,
    ]);
    expect(p4.status, p4.stderr).toBe(0);
    const c4 = card(fx.repo, 'tiny-llama-gguf', '1.0.0');
    expect(c4).toMatch(/architecture: \{family: llama, parameters: \d+, format: gguf, dtype: q8_0\}/);
    expect(c4).toContain('base: {model: tiny-llama, range: ^1.1.0, relation: quantized}');

    // 5. Nested sentence-transformers folders: family and the embedding interface from the modules.
    const st = tempDir('mg-st-');
    writeSentenceTransformers(st);
    const p5 = await push(fx, st, 'embedder', '1.0.0', ['--summary', 'Tiny embedder.', ...CODE]);
    expect(p5.status, p5.stderr).toBe(0);
    const c5 = card(fx.repo, 'embedder', '1.0.0');
    expect(c5).toContain('architecture: {family: bert, parameters: 384, format: safetensors, dtype: f32}');
    expect(c5).toContain('outputs: [{name: embedding, dtype: float32, shape: [8]}]');
    expect(c5).toContain('{path: 1_Pooling/config.json,');

    const v = await runInProcess(['validate', '--repo', fx.repo]);
    expect(v.status, v.stdout + v.stderr).toBe(0);

    const device = await publishAndSync(fx, 'dev', {
      'tiny-llama': '1.1.0',
      'support-lora': '1.0.0',
      'tiny-llama-gguf': '1.0.0',
      embedder: '1.0.0',
    });
    expect(digests(current(device, 'tiny-llama'))).toEqual(digests(snap, litter));
    // The adapter's own files; the device links its base next to them (base/), which must be the base's bytes.
    expect(digests(current(device, 'support-lora'), (p) => p === 'base')).toEqual(digests(adapter));
    expect(digests(join(current(device, 'support-lora'), 'base'))).toEqual(digests(snap, litter));
    expect(digests(current(device, 'tiny-llama-gguf'))).toEqual(digests(gguf));
    expect(digests(current(device, 'embedder'))).toEqual(digests(st));
    expect(Object.keys(digests(current(device, 'embedder')))).toContain('0_Transformer/model.safetensors');
  });
});

describe('real layouts: push -> publish -> sync (S3)', () => {
  it('a sharded Llama training output pushed to radosgw syncs byte for byte', { timeout: 120_000 }, async () => {
    const fx = await makeFixture('s3', 'layouts');
    modelYaml(fx.repo, 'tiny-llama');
    const dir = tempDir('mg-trained-');
    writeShardedLlama(dir);
    write(dir, trainerFiles()); // a card with DVC (md5) datasets, metrics and hyperparameters gets published
    const p = await push(fx, dir, 'tiny-llama', '1.0.0', ['--summary', 'First tiny Llama.', ...CODE]);
    expect(p.status, p.stderr).toBe(0);
    expect(p.json.store).toBe(fx.storeUrl);
    expect(p.json.totals.files).toBe(13);
    expect(card(fx.repo, 'tiny-llama', '1.0.0')).toContain('md5: 3f2a9c0d4e5b6a7980f1e2d3c4b5a697.dir');
    const device = await publishAndSync(fx, 'dev', { 'tiny-llama': '1.0.0' });
    expect(digests(current(device, 'tiny-llama'))).toEqual(digests(dir, litter));
  });
});

describe('refusals, before anything is uploaded', () => {
  const setup = () => {
    const f = fixture();
    modelYaml(f.repo, 'tiny-llama');
    return f;
  };
  const refused = async (f: ReturnType<typeof fixture>, dir: string, flags: string[] = []) => {
    const r = await f.run([
      'push',
      dir,
      '--model',
      'tiny-llama',
      '--version',
      '1.0.0',
      '--summary',
      's',
      ...CODE,
      ...flags,
    ]);
    expect(r.status).not.toBe(0);
    expect(folderStoreKeys(join(f.repo, '.model-gitops/store')).filter((k) => k.startsWith('blobs/'))).toEqual([]);
    expect(existsSync(join(f.repo, 'models/tiny-llama/versions/1.0.0.yaml'))).toBe(false);
    return r.stderr;
  };

  it('an incomplete checkpoint (index present, one shard deleted) names the missing shard and a tensor', async () => {
    const f = setup();
    const dir = tempDir('mg-l-');
    writeShardedLlama(dir);
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const second = Object.entries(index.weight_map as Record<string, string>).filter(([, s]) =>
      s.startsWith('model-00002'),
    );
    const err = await refused(f, dir);
    expect(err).toContain(
      `model.safetensors.index.json: weight_map names model-00002-of-00002.safetensors (for ${second.length} tensors, e.g. "${second[0]![0]}"), which is not in the folder`,
    );
  });

  it('a stale shard from an earlier save, a tensor the index does not list, and a wrong total_size', async () => {
    const f = setup();
    const stale = tempDir('mg-l-');
    writeShardedLlama(stale, { shards: 3 });
    write(stale, shardFiles(llamaTensors(), 2)); // re-saved in 2 shards over a 3-shard save
    expect(await refused(f, stale)).toContain(
      'model-00003-of-00003.safetensors: looks like a shard of this checkpoint but model.safetensors.index.json does not name it',
    );

    const unlisted = tempDir('mg-l-');
    writeShardedLlama(unlisted);
    const indexPath = join(unlisted, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    delete index.weight_map['lm_head.weight'];
    writeFileSync(indexPath, JSON.stringify(index));
    expect(await refused(f, unlisted)).toContain(
      'model-00002-of-00002.safetensors: holds 1 tensor that model.safetensors.index.json does not map to it (e.g. "lm_head.weight")',
    );

    const total = tempDir('mg-l-');
    writeShardedLlama(total);
    const t = JSON.parse(readFileSync(join(total, 'model.safetensors.index.json'), 'utf8'));
    const real = t.metadata.total_size;
    t.metadata.total_size = real + 2;
    writeFileSync(join(total, 'model.safetensors.index.json'), JSON.stringify(t));
    expect(await refused(f, total)).toContain(
      `model.safetensors.index.json: metadata.total_size is ${real + 2} but the shards hold ${real} bytes of tensors`,
    );
  });

  it('git-LFS pointers under any name: .gguf and .safetensors', async () => {
    const f = setup();
    for (const name of ['model.gguf', 'model.safetensors', 'pytorch_model.bin']) {
      const dir = tempDir('mg-lfs-');
      write(dir, { [name]: lfsPointer(), 'config.json': '{"model_type": "llama"}' });
      const err = await refused(f, dir);
      expect(err).toContain(
        `${name}: a git-LFS pointer (${lfsPointer().length} bytes, for 2.2 GiB), not the file itself`,
      );
      expect(err).toContain('Run `git lfs pull`');
      expect(err).not.toContain('header length');
    }
  });

  it('pickle weights are refused; --allow-pickle marks them in the card and validate warns', async () => {
    const f = setup();
    const dir = tempDir('mg-pkl-');
    write(dir, {
      'pytorch_model.bin': torchZipMagic(),
      'extra.weights': pickleMagic(), // a pickle under a name that does not say so
      'config.json': '{"model_type": "llama"}',
    });
    const err = await refused(f, dir, ['--interface-from', 'intent-classifier@2.1.0']);
    expect(err).toContain('holds pickle-based files, and loading a pickle runs code');
    expect(err).toContain('  extra.weights\n  pytorch_model.bin\n');
    expect(err).toContain('pass --allow-pickle if you trust their origin');

    const ok = await f.run([
      'push',
      dir,
      '--model',
      'tiny-llama',
      '--version',
      '1.0.0',
      '--summary',
      's',
      ...CODE,
      '--interface-from',
      'intent-classifier@2.1.0',
      '--allow-pickle',
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    const c = card(f.repo, 'tiny-llama', '1.0.0');
    expect(c).toMatch(/\{path: pytorch_model\.bin, sha256: [0-9a-f]{64}, size: \d+, pickle: true\}/);
    expect(c).toMatch(/\{path: extra\.weights, sha256: [0-9a-f]{64}, size: \d+, pickle: true\}/);
    expect(c).toMatch(/\{path: config\.json, sha256: [0-9a-f]{64}, size: \d+\}/);
    const v = await f.run(['validate']);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout + v.stderr).toContain('pytorch_model.bin is pickle-based: loading it runs code');
    // A hand-written card listing a .bin without the mark is warned about too, with what to do.
    const cardFile = join(f.repo, 'models/tiny-llama/versions/1.0.0.yaml');
    writeFileSync(cardFile, c.replace(/(path: pytorch_model\.bin, [^}]*), pickle: true\}/, '$1}'));
    const unmarked = await f.run(['validate']);
    expect(unmarked.status, unmarked.stdout + unmarked.stderr).toBe(0);
    expect(unmarked.stdout + unmarked.stderr).toMatch(
      /1\.0\.0\.yaml:\d+:\d+ +artifacts\[\d\]\.path +warning +pytorch_model\.bin is pickle-based: loading it runs code chosen by whoever wrote it; convert it to safetensors, or mark it pickle: true \(push --allow-pickle\) once you trust its origin/,
    );
  });

  it('.modelignore skips what it lists; unsupported syntax names the line', async () => {
    const f = setup();
    const dir = tempDir('mg-ign-');
    writeShardedLlama(dir);
    write(dir, {
      '.modelignore': '# scratch\nlogs/\n*.tmp\n!keep.tmp\n/runs/**\n',
      'logs/a.txt': 'x',
      'sub/logs/b.txt': 'x',
      'scratch.tmp': 'x',
      'keep.tmp': 'kept',
      'keep/notes.json': '{}', // sorts after keep.tmp by whole path, before it by folder walk
      'runs/1/events': 'x',
    });
    const r = await f.run([
      'push',
      dir,
      '--model',
      'tiny-llama',
      '--version',
      '1.0.0',
      '--summary',
      's',
      ...CODE,
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const paths = JSON.parse(r.stdout).files.map((x: { path: string }) => x.path);
    expect(paths).toContain('keep.tmp');
    expect(paths.indexOf('keep/notes.json')).toBe(paths.indexOf('keep.tmp') + 1);
    for (const p of ['logs/a.txt', 'sub/logs/b.txt', 'scratch.tmp', 'runs/1/events', '.modelignore', '.gitattributes'])
      expect(paths).not.toContain(p);
    expect(paths.some((p: string) => p.startsWith('.cache/'))).toBe(false);

    const bad = tempDir('mg-ign-');
    writeShardedLlama(bad);
    write(bad, { '.modelignore': 'ok.txt\nmodel-[0-9].bin\n' });
    expect(await refused(setup(), bad)).toContain(`${bad}/.modelignore:2: "[" is not supported in .modelignore`);
  });

  it('--from-hf-cache on an ordinary folder, and a truncated safetensors file, say what to do', async () => {
    const f = setup();
    const plain = tempDir('mg-plain-');
    writeShardedLlama(plain);
    expect(await refused(f, plain, ['--from-hf-cache'])).toContain(
      `--from-hf-cache: ${plain} is not a Hugging Face cache snapshot (expected <cache>/models--ORG--NAME/snapshots/<revision>/ or the models--ORG--NAME folder)`,
    );
    const cut = tempDir('mg-cut-');
    writeShardedLlama(cut);
    const shard = join(cut, 'model-00001-of-00002.safetensors');
    writeFileSync(shard, readFileSync(shard).subarray(0, 100));
    const err = await refused(f, cut);
    expect(err).toContain('model-00001-of-00002.safetensors: not a readable safetensors file:');
    expect(err).toContain('Is the download complete? Download it again, or list it in .modelignore.');
  });

  it('--dry-run of a folder with ignored files sends and writes nothing but the hash cache', async () => {
    const f = setup();
    const dir = tempDir('mg-l-');
    writeShardedLlama(dir);
    const r = await f.run([
      'push',
      dir,
      '--model',
      'tiny-llama',
      '--version',
      '1.0.0',
      '--summary',
      's',
      ...CODE,
      '--dry-run',
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.files.map((x: { path: string }) => x.path)).toEqual([
      'README.md',
      'config.json',
      'generation_config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(j.totals.sentBytes).toBe(0);
    expect(j.card).toMatchObject({ status: 'created', written: false });
    expect(folderStoreKeys(join(f.repo, '.model-gitops/store'))).toEqual([]);
    // Nothing stands in for the folder (no staging copy or links): the state folder holds the hash cache only.
    expect(readdirSync(join(f.repo, '.model-gitops')).sort()).toEqual(['hash-cache.json']);
  });

  it('a hub cache symlink that leads out of the repo cache folder is refused', async () => {
    const f = setup();
    const cache = tempDir('mg-hfcache-');
    const snap = writeHfCache(cache, 'acme/tiny-llama', { 'config.json': '{"model_type": "llama"}' });
    const outside = join(tempDir('mg-out-'), 'secret.safetensors');
    writeFileSync(outside, 'x');
    symlinkSync(outside, join(snap, 'model.safetensors'));
    expect(await refused(f, snap)).toContain(
      `model.safetensors: symlink points outside the hub cache repo folder (to ${outside}); copy the file in instead`,
    );
  });

  it('a PEFT adapter whose base no card was imported from asks for --base', async () => {
    const f = setup();
    const dir = tempDir('mg-adapter-');
    writePeftAdapter(dir, 'meta-llama/Llama-3.2-1B');
    const err = await refused(f, dir, ['--interface-from', 'intent-classifier@2.1.0', '--family', 'llama']);
    expect(err).toContain(
      'base  --base MODEL@RANGE (adapter_config.json names base_model_name_or_path "meta-llama/Llama-3.2-1B", and no card in models/ has that as lineage.source.repo)',
    );
    expect(err).toContain('Nothing was uploaded or written.');
  });

  it('--parent inherits family and serving; a changed chat template changes the interface digest', async () => {
    const f = setup();
    const one = tempDir('mg-l-');
    writeShardedLlama(one);
    expect(
      (await f.run(['push', one, '--model', 'tiny-llama', '--version', '1.0.0', '--summary', 's', ...CODE])).status,
    ).toBe(0);
    const path = join(f.repo, 'models/tiny-llama/versions/1.0.0.yaml');
    writeFileSync(
      path,
      `${readFileSync(path, 'utf8')}serving: {engine: vllm}\nbase: {model: intent-classifier, range: ^2.0.0, relation: finetune}\n`,
    );
    const two = tempDir('mg-l-');
    writeShardedLlama(two);
    write(two, { ...llamaConfigFiles({ chatTemplate: '{{ messages }}' }), 'config.json': '{}' });
    const r = await f.run([
      'push',
      two,
      '--model',
      'tiny-llama',
      '--version',
      '2.0.0',
      '--summary',
      's',
      '--parent',
      '1.0.0',
      ...CODE,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const c = card(f.repo, 'tiny-llama', '2.0.0');
    expect(c).toContain('architecture: {family: llama,');
    expect(c).toContain('serving: {engine: vllm}');
    expect(c).toContain('base: {model: intent-classifier, range: ^2.0.0, relation: finetune}');
    expect(r.stderr).toContain(
      'base intent-classifier@^2.0.0 (finetune) inherited from models/tiny-llama/versions/1.0.0.yaml',
    );
    expect(c).toContain(`  chatTemplate: {sha256: ${sha256Hex('{{ messages }}')}, source: tokenizer_config.json}`);
    expect(r.stderr).toContain(
      'interface.chatTemplate set from the pushed tokenizer_config.json (it differs from models/tiny-llama/versions/1.0.0.yaml)',
    );
    expect(r.stderr).toContain('interface.tokenizer.configSha256 set to the pushed tokenizer_config.json');
    expect(r.stderr).toContain('architecture.family llama inherited from models/tiny-llama/versions/1.0.0.yaml');
    void LLAMA;
  });
});
