// The importers and checks push runs on a model folder, one by one, good input and bad.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ignoreMatcher } from '../../src/authoring/intake/ignore.ts';
import { checkShardIndex } from '../../src/authoring/intake/shards.ts';
import { readHfReadme } from '../../src/authoring/intake/hf-readme.ts';
import { readTrainerOutput } from '../../src/authoring/intake/trainer.ts';
import { readDvcFile, readDvcLock } from '../../src/authoring/intake/dvc.ts';
import { readAdapterConfig, peftHyperparameters } from '../../src/authoring/intake/peft.ts';
import { detectHfCacheSnapshot } from '../../src/authoring/intake/hf-cache.ts';
import { isPickle, pickleMagic } from '../../src/authoring/intake/pickle.ts';
import { deriveInterface } from '../../src/authoring/intake/interface.ts';
import { parseBaseFlag } from '../../src/authoring/intake/base.ts';
import type { TensorInfo } from '../../src/formats/safetensors.ts';
import { ggufCardDtype, weightFacts } from '../../src/authoring/card-writer.ts';
import { tempDir } from '../helpers.ts';
import { REVISION, pickleMagic as pickleBytes, torchZipMagic, writeHfCache } from '../helpers/model-layouts.ts';

describe('ignore rules (default list + .modelignore)', () => {
  it('skips the defaults at any depth, and a .modelignore with anchors, globs, ** and negation', () => {
    const m = ignoreMatcher('# comment\n\nlogs/\n*.tmp\n!keep.tmp\n/top.txt\ndocs/**/draft.md\n');
    expect(m.ignores('.git', true)).toBe(true);
    expect(m.ignores('sub/.cache', true)).toBe(true);
    expect(m.ignores('.gitattributes', false)).toBe(true);
    expect(m.ignores('a/__pycache__', true)).toBe(true);
    expect(m.ignores('a/.DS_Store', false)).toBe(true);
    expect(m.ignores('.cache', false)).toBe(false); // a file named .cache: the rule is for folders
    expect(m.ignores('logs', true)).toBe(true);
    expect(m.ignores('a/logs', true)).toBe(true);
    expect(m.ignores('logs', false)).toBe(false);
    expect(m.ignores('x.tmp', false)).toBe(true);
    expect(m.ignores('a/b/x.tmp', false)).toBe(true);
    expect(m.ignores('keep.tmp', false)).toBe(false);
    expect(m.ignores('top.txt', false)).toBe(true);
    expect(m.ignores('a/top.txt', false)).toBe(false);
    expect(m.ignores('docs/draft.md', false)).toBe(true);
    expect(m.ignores('docs/a/b/draft.md', false)).toBe(true);
    expect(m.ignores('model.safetensors', false)).toBe(false);
    expect(m.reason('x.tmp', false)).toBe('*.tmp (.modelignore:4)');
    expect(m.reason('.gitattributes', false)).toBe('.gitattributes (default ignore list)');
  });

  it('refuses what it does not support, naming the file and line', () => {
    expect(() => ignoreMatcher('a\nb[0-9]\n', 'm/.modelignore')).toThrow(
      'm/.modelignore:2: "[" is not supported in .modelignore (supported: * ? ** ! / and # comments); write the names out',
    );
    expect(() => ignoreMatcher('\\#file\n')).toThrow('.modelignore:1: "\\" is not supported');
    expect(() => ignoreMatcher('a/../b\n')).toThrow('.modelignore:1: "a/../b" is not a usable pattern');
    expect(() => ignoreMatcher('/\n')).toThrow('.modelignore:1: "/" is not a usable pattern');
  });
});

describe('sharded safetensors completeness', () => {
  const t = (name: string, start: number, end: number): TensorInfo => ({
    name,
    dtype: 'F32',
    shape: [(end - start) / 4],
    start,
    end,
  });
  const tensors = new Map<string, TensorInfo[]>([
    ['model-00001-of-00002.safetensors', [t('a', 0, 8), t('b', 8, 16)]],
    ['model-00002-of-00002.safetensors', [t('c', 0, 4)]],
  ]);
  const index = (o: unknown) => ({ path: 'model.safetensors.index.json', text: JSON.stringify(o) });
  const ok = {
    metadata: { total_size: 20 },
    weight_map: {
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
      c: 'model-00002-of-00002.safetensors',
    },
  };

  it('accepts a complete checkpoint, with or without total_size', () => {
    expect(checkShardIndex(index(ok), tensors)).toEqual([]);
    expect(checkShardIndex(index({ weight_map: ok.weight_map }), tensors)).toEqual([]);
  });

  it('names each problem: bad JSON, no weight_map, paths, a tensor in two shards, one the index misplaces', () => {
    expect(checkShardIndex({ path: 'model.safetensors.index.json', text: '{"weight_map": ' }, tensors)[0]).toMatch(
      /^model\.safetensors\.index\.json: not valid JSON \(.+\); re-download or re-save the checkpoint$/,
    );
    expect(checkShardIndex(index({ weight_map: [] }), tensors)).toEqual([
      'model.safetensors.index.json: weight_map is missing or not an object of tensor name -> shard file',
    ]);
    expect(checkShardIndex(index({ weight_map: { a: '../x.safetensors' } }), tensors)).toEqual([
      'model.safetensors.index.json: weight_map["a"] is "../x.safetensors", not a shard file name in the same folder',
    ]);
    const twice = new Map(tensors);
    twice.set('model-00002-of-00002.safetensors', [t('c', 0, 4), t('a', 4, 12)]);
    expect(checkShardIndex(index(ok), twice)).toEqual([
      'model-00002-of-00002.safetensors: holds 1 tensor that model.safetensors.index.json does not map to it (e.g. "a"); the index and the shards come from different saves: re-save the checkpoint',
      '1 tensor is in more than one shard (e.g. "a" in model-00001-of-00002.safetensors and model-00002-of-00002.safetensors); re-save the checkpoint',
    ]);
    const misplaced = { weight_map: { ...ok.weight_map, d: 'model-00002-of-00002.safetensors' } };
    expect(checkShardIndex(index(misplaced), tensors)).toEqual([
      'model.safetensors.index.json: weight_map puts 1 tensor in model-00002-of-00002.safetensors that it does not hold (e.g. "d"); re-save the checkpoint',
    ]);
    expect(checkShardIndex(index({ ...ok, metadata: { total_size: '20' } }), tensors)).toEqual([
      'model.safetensors.index.json: metadata.total_size is "20", not a byte count',
    ]);
  });

  it('checks an index in a subfolder against the shards next to it', () => {
    const nested = new Map([...tensors].map(([k, v]) => [`unet/${k.replace('model', 'diffusion_pytorch_model')}`, v]));
    const map = Object.fromEntries(
      Object.entries(ok.weight_map).map(([k, v]) => [k, v.replace('model', 'diffusion_pytorch_model')]),
    );
    expect(
      checkShardIndex(
        { path: 'unet/diffusion_pytorch_model.safetensors.index.json', text: JSON.stringify({ weight_map: map }) },
        nested,
      ),
    ).toEqual([]);
    expect(checkShardIndex(index(ok), nested)[0]).toContain('which is not in the folder');
  });
});

describe('README.md front matter', () => {
  it('reads license, base_model, relation, datasets, language and pipeline_tag', () => {
    const r = readHfReadme(
      '---\nlicense: mit\nbase_model:\n- meta-llama/Llama-3.2-1B\nbase_model_relation: quantized\ndatasets: a/b\nlanguage: [en]\npipeline_tag: text-generation\n---\n# Title\n',
    );
    expect(r).toEqual({
      license: 'mit',
      baseModels: ['meta-llama/Llama-3.2-1B'],
      baseRelation: 'quantized',
      datasets: ['a/b'],
      language: ['en'],
      pipelineTag: 'text-generation',
      notes: [],
    });
  });

  it('no front matter is nothing; malformed front matter and an unknown relation are said', () => {
    expect(readHfReadme('# Just prose\n---\nnot: front matter\n---\n')).toBeUndefined();
    expect(() => readHfReadme('---\nlicense: [unclosed\n---\n')).toThrow(
      /^README\.md: the front matter \(between the --- lines\) is not valid YAML: .+; fix it or remove it$/,
    );
    expect(() => readHfReadme('---\n- a\n---\n')).toThrow('README.md: the front matter is not a mapping of fields');
    expect(readHfReadme('---\nbase_model_relation: distilled\n---\n')!.notes).toEqual([
      'README.md: base_model_relation "distilled" is not one of adapter, merge, quantized, finetune; not used',
    ]);
  });
});

describe('Trainer output', () => {
  it('metrics from eval/all results (eval_ dropped, speeds left out), hyperparameters from trainer_state, duration', () => {
    const t = readTrainerOutput(
      new Map([
        [
          'trainer_state.json',
          '{"num_train_epochs": 3, "train_batch_size": 16, "global_step": 90, "best_metric": 0.8, "log_history": []}',
        ],
        [
          'all_results.json',
          '{"eval_f1": 0.7, "train_runtime": 100.5, "train_samples_per_second": 3, "epoch": 3.0, "total_flos": 1e12}',
        ],
        ['eval_results.json', '{"eval_f1": 0.75, "eval_runtime": 2, "eval bad key": 1}'],
      ]),
    )!;
    expect(t.metrics).toEqual({ best_metric: 0.8, f1: 0.75 });
    expect(t.hyperparameters).toEqual({ epochs: 3, train_batch_size: 16, global_step: 90 });
    expect(t.durationSeconds).toBe(100.5);
    expect(t.notes).toEqual(['eval_results.json: "eval bad key" is not usable as a metric name; not recorded']);
  });

  it('bad files are noted, not fatal; no files is undefined', () => {
    expect(readTrainerOutput(new Map())).toBeUndefined();
    const t = readTrainerOutput(
      new Map([
        ['trainer_state.json', '{oops'],
        ['eval_results.json', '[1]'],
      ]),
    )!;
    expect(t.metrics).toEqual({});
    expect(t.notes[0]).toMatch(/^trainer_state\.json is not valid JSON \(.+\); not read$/);
    expect(t.notes[1]).toBe('eval_results.json is not a JSON object; not read');
  });
});

describe('DVC entries', () => {
  it('.dvc outs and dvc.lock data deps (not code, not another stage output) with their md5', () => {
    expect(
      readDvcFile('outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: data/train\n', 'train.dvc'),
    ).toEqual([{ name: 'train', md5: '0123456789abcdef0123456789abcdef.dir', uri: 'data/train' }]);
    const lock =
      'schema: "2.0"\nstages:\n  prep:\n    cmd: python prep.py\n    deps:\n    - path: prep.py\n      md5: 11111111111111111111111111111111\n    - path: raw.csv\n      md5: 22222222222222222222222222222222\n    outs:\n    - path: clean.csv\n      md5: 33333333333333333333333333333333\n  train:\n    cmd: python train.py\n    deps:\n    - path: clean.csv\n      md5: 33333333333333333333333333333333\n';
    expect(readDvcLock(lock)).toEqual([{ name: 'raw.csv', md5: '22222222222222222222222222222222', uri: 'raw.csv' }]);
  });

  it('refuses entries without a digest or with a malformed one, naming the file and entry', () => {
    expect(() => readDvcFile('outs:\n- path: data\n', 'd.dvc')).toThrow(
      'd.dvc: outs[0] (data) has no md5 digest; run dvc commit',
    );
    expect(() => readDvcFile('outs:\n- path: data\n  md5: xyz\n', 'd.dvc')).toThrow(
      'd.dvc: outs[0] (data) md5 "xyz" is not a DVC md5 digest',
    );
    expect(() => readDvcFile('wdir: .\n', 'd.dvc')).toThrow('d.dvc: no outs list; not a DVC-tracked file');
    expect(() => readDvcFile('outs: [\n', 'd.dvc')).toThrow(/^d\.dvc: not valid YAML/);
    expect(() => readDvcLock('stages: 3\n')).toThrow('dvc.lock: no stages mapping');
  });
});

describe('PEFT adapter_config.json', () => {
  it('reads the adapter shape and base', () => {
    const p = readAdapterConfig(
      '{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["v_proj", "q_proj"], "base_model_name_or_path": "org/base", "task_type": "CAUSAL_LM"}',
    );
    expect(p).toEqual({
      peftType: 'LORA',
      r: 8,
      loraAlpha: 16,
      targetModules: ['v_proj', 'q_proj'],
      baseModel: 'org/base',
      taskType: 'CAUSAL_LM',
    });
    expect(peftHyperparameters(p)).toEqual({
      peft_type: 'LORA',
      lora_r: 8,
      lora_alpha: 16,
      target_modules: 'q_proj,v_proj',
    });
  });
  it('refuses what is not an adapter config', () => {
    expect(() => readAdapterConfig('{')).toThrow(/^adapter_config\.json: not valid JSON/);
    expect(() => readAdapterConfig('[]')).toThrow('adapter_config.json: not a JSON object');
    expect(() => readAdapterConfig('{"r": 8}')).toThrow('adapter_config.json: peft_type is missing');
  });
});

describe('--base', () => {
  it('MODEL@RANGE, refused otherwise', () => {
    expect(parseBaseFlag('llama-base@^1.2.0', 'adapter')).toEqual({
      model: 'llama-base',
      range: '^1.2.0',
      relation: 'adapter',
    });
    for (const bad of ['llama-base', 'Llama@^1', 'llama@not a range', '@^1.0.0'])
      expect(() => parseBaseFlag(bad, 'adapter')).toThrow(
        `--base "${bad}" must be MODEL@RANGE, e.g. llama-base@^1.2.0`,
      );
    expect(() => parseBaseFlag('a@^1.0.0', 'distilled' as never)).toThrow('--base-relation "distilled" must be one of');
  });
});

describe('Hugging Face cache snapshots', () => {
  it('detects a snapshot and the repo folder (via refs/main); an ordinary folder is not one', () => {
    const cache = tempDir('mg-hf-');
    const snap = writeHfCache(cache, 'acme/tiny', { 'config.json': '{}' });
    const root = join(cache, 'models--acme--tiny');
    expect(detectHfCacheSnapshot(snap)).toMatchObject({
      root,
      source: { hub: 'huggingface', repo: 'acme/tiny', revision: REVISION },
      ref: 'main',
    });
    expect(detectHfCacheSnapshot(root)).toMatchObject({ dir: snap, source: { repo: 'acme/tiny' } });
    expect(detectHfCacheSnapshot(tempDir('mg-plain-'))).toBeUndefined();
    const noOrg = writeHfCache(cache, 'gpt2', { 'config.json': '{}' }, 'b'.repeat(40));
    expect(detectHfCacheSnapshot(noOrg)?.source.repo).toBe('gpt2');
  });
  it('a repo folder whose refs/main names no snapshot is refused with what to do', () => {
    const cache = tempDir('mg-hf-');
    writeHfCache(cache, 'acme/tiny', { 'config.json': '{}' });
    const root = join(cache, 'models--acme--tiny');
    writeFileSync(join(root, 'refs', 'main'), 'c'.repeat(40));
    expect(() => detectHfCacheSnapshot(root)).toThrow(
      `names revision "${'c'.repeat(40)}", which has no folder under snapshots/; download it again (huggingface-cli download acme/tiny)`,
    );
    const bare = join(cache, 'models--x--y');
    mkdirSync(join(bare, 'snapshots'), { recursive: true });
    expect(() => detectHfCacheSnapshot(bare)).toThrow('is a Hugging Face cache folder without refs/main');
  });
});

describe('pickle detection (never loaded)', () => {
  it('by extension or by a pickle stream under any name; safetensors and GGUF bytes are not pickles', () => {
    expect(pickleMagic(torchZipMagic())).toBe('zip');
    expect(pickleMagic(pickleBytes())).toBe('pickle');
    expect(isPickle('weights.data', pickleBytes())).toBe(true);
    for (const n of ['a.bin', 'a.PT', 'b.pth', 'c.ckpt', 'd.pkl', 'e.pickle'])
      expect(isPickle(n, Buffer.from('x'))).toBe(true);
    expect(isPickle('model.safetensors', Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 0x7b]))).toBe(false);
    expect(isPickle('model.gguf', Buffer.from('GGUF'))).toBe(false);
    expect(pickleMagic(Buffer.from([0x80, 0x09]))).toBeUndefined();
  });
});

describe('derived interfaces', () => {
  it('from the pipeline tag and config.json (labels in id order), or sentence-transformers modules', () => {
    expect(
      deriveInterface({ pipelineTag: 'text-classification', config: { id2label: { '1': 'pos', '0': 'neg' } } }),
    ).toEqual({
      inputs: [{ name: 'text', dtype: 'string' }],
      outputs: [{ name: 'label', dtype: 'string', labels: ['neg', 'pos'] }],
    });
    expect(
      deriveInterface({ pipelineTag: 'text-classification', config: { id2label: { '0': 'x', '1': 'x' } } })!.outputs,
    ).toEqual([{ name: 'label', dtype: 'string' }]);
    expect(deriveInterface({ sentenceTransformers: true, embeddingDimension: 384 })!.outputs).toEqual([
      { name: 'embedding', dtype: 'float32', shape: [384] },
    ]);
    expect(deriveInterface({ pipelineTag: 'image-to-3d' })).toBeUndefined();
    expect(deriveInterface({})).toBeUndefined();
  });
});

describe('GGUF types on the card', () => {
  it('llama.cpp file types and ggml types map to architecture.dtype where the card has a name for them', () => {
    const g = (quantization?: string, dtype?: string) => ({
      parameters: 1,
      ...(quantization ? { quantization } : {}),
      ...(dtype ? { dtype } : {}),
    });
    expect(ggufCardDtype(g('MOSTLY_Q4_K_M', 'Q4_K'))).toBe('q4_k_m');
    expect(ggufCardDtype(g('ALL_F32', 'F32'))).toBe('f32');
    expect(ggufCardDtype(g('MOSTLY_Q8_0'))).toBe('q8_0');
    expect(ggufCardDtype(g('MOSTLY_IQ2_XS', 'F16'))).toBe('f16'); // no card name for IQ2_XS: the dominant tensor type
    expect(ggufCardDtype(g('MOSTLY_IQ2_XS', 'IQ2_XS'))).toBeUndefined();
    const facts = weightFacts([{ path: 'm.gguf', sha256: 'a'.repeat(64), size: 1 }], [], undefined, [
      { family: 'qwen2', parameters: 42, quantization: 'MOSTLY_IQ2_XS', dtype: 'IQ2_XS', contextLength: 4096 },
    ]);
    expect(facts).toMatchObject({ format: 'gguf', parameters: 42, family: 'qwen2' });
    expect(facts.dtype).toBeUndefined();
    expect(facts.notes).toEqual(['GGUF type MOSTLY_IQ2_XS has no architecture.dtype equivalent; dtype left out']);
  });
});
