// The PyTorch harnesses. py_compile always (when python3 exists); the real runs only where a Python
// with torch is found (MODEL_GITOPS_TORCH_PYTHON, else /usr/bin/python3 or python3). CI has no torch,
// so there they are skipped and say so; on a GPU runner they run on CUDA.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHarnessOutput } from '../../src/benchmark/harness-output.ts';
import { goldenIntents } from '../../src/demo-model/dataset.ts';
import { evaluate } from '../../src/demo-model/train.ts';
import { trainHistory } from '../../src/demo-model/versions.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { trainedFiles } from './fixture.ts';

const has = (py: string, code: string) => spawnSync(py, ['-c', code], { encoding: 'utf8' }).status === 0;
const python = ['python3', '/usr/bin/python3'].find((p) => has(p, 'import sys'));
const torchPython = [process.env.MODEL_GITOPS_TORCH_PYTHON, '/usr/bin/python3', 'python3'].find(
  (p) => p && has(p, 'import torch'),
);

describe('benchmarks/torch', () => {
  it.skipIf(!python)('compiles (py_compile)', () => {
    const r = spawnSync(
      python!,
      [
        '-m',
        'py_compile',
        'benchmarks/torch/_contract.py',
        'benchmarks/torch/classifier.py',
        'benchmarks/torch/causal_lm.py',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!torchPython)(
    'classifier.py loads the TS-trained safetensors and gets the same accuracy, in the harness contract',
    () => {
      const dir = join(tempDir('mg-torch-'), '2.1.0');
      mkdirSync(dir);
      for (const [name, bytes] of Object.entries(trainedFiles().get('2.1.0')!)) writeFileSync(join(dir, name), bytes);
      const out = join(dir, '..', 'out.json');
      const r = spawnSync(
        torchPython!,
        [
          'benchmarks/torch/classifier.py',
          '--model-dir',
          dir,
          '--golden',
          'benchmarks/golden/intents.jsonl',
          '--batch-sizes',
          '1,8',
          '--warmup',
          '1',
          '--iterations',
          '1',
          '--device',
          'cpu',
          '--output',
          out,
        ],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(r.stderr).toBe('');
      const o = parseHarnessOutput(readFileSync(out, 'utf8'), 'classifier.py');
      const ts = evaluate(trainHistory().get('2.1.0')!.model, goldenIntents());
      expect(o.accuracy).toBeCloseTo(ts.accuracy, 6);
      expect(o.results.map((x) => x.batchSize)).toEqual([1, 8]);
      expect(o.harness).toMatchObject({ name: 'torch-classifier', mode: 'full' });
    },
  );

  it.skipIf(!torchPython)('causal_lm.py reports TTFT and TPOT for a tiny random model, in the harness contract', () => {
    const dir = tempDir('mg-lm-');
    expect(
      spawnSync(torchPython!, ['benchmarks/torch/causal_lm.py', '--init-random', join(dir, 'm'), '--seed', '3'], {
        cwd: ROOT,
      }).status,
    ).toBe(0);
    const golden = join(dir, 'prompts.jsonl');
    writeFileSync(
      golden,
      ['{"prompt": "Hello"}', '{"prompt": "Tell me about the order.", "expected": "zzz"}', '{"prompt": "Hi"}'].join(
        '\n',
      ) + '\n',
    );
    const out = join(dir, 'out.json');
    const r = spawnSync(
      torchPython!,
      [
        'benchmarks/torch/causal_lm.py',
        '--model-dir',
        join(dir, 'm'),
        '--golden',
        golden,
        '--batch-sizes',
        '2',
        '--max-new-tokens',
        '3',
        '--warmup',
        '0',
        '--iterations',
        '1',
        '--device',
        'cpu',
        '--output',
        out,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    const o = parseHarnessOutput(readFileSync(out, 'utf8'), 'causal_lm.py');
    expect(o.results[0]!.ttft_ms!.p50).toBeGreaterThan(0);
    expect(o.results[0]!.tpot_ms!.p50).toBeGreaterThan(0);
    expect(o.accuracy).toBe(0); // one scored prompt, random weights
  });
});
