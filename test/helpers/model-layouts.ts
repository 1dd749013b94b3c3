// Model folders shaped the way ML engineers ship them, small enough for tests (KBs): a sharded Llama
// checkpoint with its index (real Llama tensor names, tiny dimensions), the same tensors re-sharded, a
// Hugging Face cache snapshot (symlinks into ../../blobs, refs/main), a PEFT LoRA adapter, a GGUF v3 file
// with F32 and Q8_0 tensors, a nested sentence-transformers folder, Trainer output with DVC entries, a
// git-LFS pointer and pickle files. Nothing here is ever executed or unpickled.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeSafetensors, type TensorData } from '../../src/formats/safetensors.ts';
import { sha256Hex } from '../../src/lib/hash.ts';
import { encodeGguf } from './gguf.ts';

/** Deterministic bytes (xorshift) so every generated file has stable digests. */
export function bytes(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function write(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [path, content] of Object.entries(files)) {
    const p = join(dir, ...path.split('/'));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export const LLAMA = { hidden: 16, intermediate: 32, vocab: 64, layers: 2 };

/** A tiny Llama's tensors, named as transformers' LlamaForCausalLM saves them (bf16). */
export function llamaTensors(seed = 1): TensorData[] {
  const { hidden: h, intermediate: m, vocab: v, layers } = LLAMA;
  const t = (name: string, shape: number[], s: number): TensorData => ({
    name,
    dtype: 'BF16',
    shape,
    data: bytes(seed * 1000 + s, shape.reduce((a, d) => a * d, 1) * 2),
  });
  const out: TensorData[] = [t('model.embed_tokens.weight', [v, h], 1)];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    out.push(
      t(`${p}.self_attn.q_proj.weight`, [h, h], 10 * i + 2),
      t(`${p}.self_attn.k_proj.weight`, [h, h], 10 * i + 3),
      t(`${p}.self_attn.v_proj.weight`, [h, h], 10 * i + 4),
      t(`${p}.self_attn.o_proj.weight`, [h, h], 10 * i + 5),
      t(`${p}.mlp.gate_proj.weight`, [m, h], 10 * i + 6),
      t(`${p}.mlp.up_proj.weight`, [m, h], 10 * i + 7),
      t(`${p}.mlp.down_proj.weight`, [h, m], 10 * i + 8),
      t(`${p}.input_layernorm.weight`, [h], 10 * i + 9),
      t(`${p}.post_attention_layernorm.weight`, [h], 10 * i + 10),
    );
  }
  out.push(t('model.norm.weight', [h], 98), t('lm_head.weight', [v, h], 99));
  return out;
}

export const llamaParameters = (): number => llamaTensors().reduce((a, t) => a + t.shape.reduce((x, d) => x * d, 1), 0);

const pad = (n: number) => String(n).padStart(5, '0');

/** Shards in order, as save_pretrained splits them (whole tensors, contiguous), plus the index. */
export function shardFiles(tensors: readonly TensorData[], shards: number): Record<string, Buffer | string> {
  const per = Math.ceil(tensors.length / shards);
  const files: Record<string, Buffer | string> = {};
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const name = `model-${pad(s + 1)}-of-${pad(shards)}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    files[name] = encodeSafetensors(part, { format: 'pt' });
    for (const t of part) {
      weightMap[t.name] = name;
      total += t.data.length;
    }
  }
  files['model.safetensors.index.json'] =
    `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`;
  return files;
}

export const CHAT_TEMPLATE =
  "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}<|assistant|>";

/** The non-weight files of a transformers checkpoint (config, tokenizer, generation config, model card). */
export function llamaConfigFiles(options: { chatTemplate?: string; readme?: string } = {}): Record<string, string> {
  return {
    'config.json': `${JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: LLAMA.hidden, intermediate_size: LLAMA.intermediate, num_hidden_layers: LLAMA.layers, vocab_size: LLAMA.vocab, torch_dtype: 'bfloat16' }, null, 2)}\n`,
    'generation_config.json': '{"bos_token_id": 1, "eos_token_id": 2, "max_new_tokens": 64}\n',
    'tokenizer.json': `${JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { '<s>': 1, '</s>': 2, a: 3 }, merges: [] } })}\n`,
    'tokenizer_config.json': `${JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: options.chatTemplate ?? CHAT_TEMPLATE, model_max_length: 2048 }, null, 2)}\n`,
    'special_tokens_map.json': '{"bos_token": "<s>", "eos_token": "</s>"}\n',
    'README.md':
      options.readme ??
      '---\nlicense: apache-2.0\nlanguage: [en, de]\npipeline_tag: text-generation\ndatasets: [acme/support-chats]\n---\n# tiny-llama\n\nA tiny Llama for tests.\n',
  };
}

/** A sharded Llama checkpoint as save_pretrained writes it, with the litter a download leaves (.cache/, .gitattributes). */
export function writeShardedLlama(dir: string, options: { shards?: number; seed?: number } = {}): void {
  write(dir, {
    ...shardFiles(llamaTensors(options.seed ?? 1), options.shards ?? 2),
    ...llamaConfigFiles(),
    '.gitattributes': '*.safetensors filter=lfs diff=lfs merge=lfs -text\n',
    '.cache/huggingface/download/model-00001-of-00002.safetensors.metadata': 'abc\n1234\n',
    '.cache/huggingface/.gitignore': '*\n',
  });
}

export const REVISION = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

/**
 * A hub cache repo folder `<cache>/models--<org>--<name>` holding one snapshot of `files`: each file a
 * blob under blobs/<sha256> and a relative symlink snapshots/<rev>/<path> -> ../../blobs/<sha256>, as
 * huggingface_hub writes them. Returns the snapshot folder.
 */
export function writeHfCache(
  cache: string,
  repo: string,
  files: Record<string, string | Uint8Array>,
  revision = REVISION,
): string {
  const root = join(cache, `models--${repo.replace('/', '--')}`);
  const snap = join(root, 'snapshots', revision);
  for (const [path, content] of Object.entries(files)) {
    const sha = sha256Hex(typeof content === 'string' ? Buffer.from(content) : content);
    write(join(root, 'blobs'), { [sha]: content });
    const link = join(snap, ...path.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    const depth = path.split('/').length + 1; // snapshots/<rev>/<path...>
    symlinkSync(`${'../'.repeat(depth)}blobs/${sha}`, link);
  }
  write(root, { 'refs/main': revision });
  return snap;
}

/** A PEFT LoRA adapter on the tiny Llama: adapter_config.json + adapter_model.safetensors (+ README). */
export function writePeftAdapter(dir: string, baseModel: string): void {
  const { hidden: h, layers } = LLAMA;
  const r = 4;
  const tensors: TensorData[] = [];
  for (let i = 0; i < layers; i++)
    for (const proj of ['q_proj', 'v_proj'])
      for (const [ab, shape] of [
        ['lora_A', [r, h]],
        ['lora_B', [h, r]],
      ] as const)
        tensors.push({
          name: `base_model.model.model.layers.${i}.self_attn.${proj}.${ab}.weight`,
          dtype: 'F32',
          shape: [...shape],
          data: bytes(700 + i * 10 + tensors.length, shape[0] * shape[1] * 4),
        });
  write(dir, {
    'adapter_config.json': `${JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel, r, lora_alpha: 8, lora_dropout: 0.05, target_modules: ['v_proj', 'q_proj'], bias: 'none' }, null, 2)}\n`,
    'adapter_model.safetensors': encodeSafetensors(tensors, { format: 'pt' }),
    'README.md': `---\nbase_model: ${baseModel}\nlibrary_name: peft\nlicense: apache-2.0\n---\n# support-lora\n`,
  });
}

/** A GGUF v3 file: the tiny Llama's metadata, F32 norms and Q8_0 matrices, a chat template. */
export function ggufModel(): Buffer {
  const { hidden: h, intermediate: m, vocab: v } = LLAMA;
  return encodeGguf({
    version: 3,
    metadata: {
      'general.architecture': 'llama',
      'general.name': 'tiny-llama',
      'general.file_type': { type: 'uint32', value: 7 }, // MOSTLY_Q8_0
      'llama.context_length': { type: 'uint32', value: 2048 },
      'llama.embedding_length': { type: 'uint32', value: h },
      'llama.block_count': { type: 'uint32', value: 1 },
      'tokenizer.chat_template': CHAT_TEMPLATE,
    },
    tensors: [
      { name: 'token_embd.weight', type: 'Q8_0', dims: [h * 2, v] },
      { name: 'blk.0.attn_q.weight', type: 'Q8_0', dims: [h * 2, h * 2] },
      { name: 'blk.0.ffn_up.weight', type: 'Q8_0', dims: [h * 2, m] },
      { name: 'blk.0.attn_norm.weight', type: 'F32', dims: [h] },
      { name: 'output_norm.weight', type: 'F32', dims: [h] },
    ],
  });
}

/** A sentence-transformers model saved in the nested layout (0_Transformer/, 1_Pooling/, 2_Normalize/). */
export function writeSentenceTransformers(dir: string): void {
  const dim = 8;
  const tensors: TensorData[] = [
    { name: 'embeddings.word_embeddings.weight', dtype: 'F32', shape: [32, dim], data: bytes(501, 32 * dim * 4) },
    {
      name: 'encoder.layer.0.attention.self.query.weight',
      dtype: 'F32',
      shape: [dim, dim],
      data: bytes(502, dim * dim * 4),
    },
    { name: 'pooler.dense.weight', dtype: 'F32', shape: [dim, dim], data: bytes(503, dim * dim * 4) },
  ];
  write(dir, {
    'modules.json': `${JSON.stringify([
      { idx: 0, name: '0', path: '0_Transformer', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ])}\n`,
    'config_sentence_transformers.json': '{"__version__": {"sentence_transformers": "2.2.2"}}\n',
    'sentence_bert_config.json': '{"max_seq_length": 128, "do_lower_case": false}\n',
    '0_Transformer/config.json': `${JSON.stringify({ model_type: 'bert', hidden_size: dim, architectures: ['BertModel'] })}\n`,
    '0_Transformer/model.safetensors': encodeSafetensors(tensors, { format: 'pt' }),
    '0_Transformer/tokenizer.json': '{"version": "1.0", "model": {"type": "WordPiece", "vocab": {"[CLS]": 0}}}\n',
    '0_Transformer/vocab.txt': '[PAD]\n[CLS]\n[SEP]\nhello\n',
    '1_Pooling/config.json': `${JSON.stringify({ word_embedding_dimension: dim, pooling_mode_mean_tokens: true })}\n`,
    '2_Normalize/.keep': '',
  });
}

/** What the Trainer writes next to the weights, and a DVC entry for the training data. */
export function trainerFiles(): Record<string, string | Uint8Array> {
  return {
    'trainer_state.json': `${JSON.stringify({ best_metric: 0.91, global_step: 120, max_steps: 120, num_train_epochs: 3, train_batch_size: 8, log_history: [{ loss: 1.2, learning_rate: 2e-5, step: 10 }] }, null, 2)}\n`,
    'all_results.json':
      '{"epoch": 3.0, "eval_accuracy": 0.91, "eval_loss": 0.31, "train_loss": 0.42, "train_runtime": 512.5, "train_samples_per_second": 11.2}\n',
    'eval_results.json':
      '{"epoch": 3.0, "eval_accuracy": 0.912, "eval_loss": 0.3, "eval_runtime": 4.1, "eval_samples_per_second": 50.0}\n',
    // A real training_args.bin is torch.save(TrainingArguments): a pickle. Only its magic is written here.
    'training_args.bin': Buffer.from([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x0b, 0x2e]),
    'support-chats.dvc':
      'outs:\n- md5: 3f2a9c0d4e5b6a7980f1e2d3c4b5a697.dir\n  size: 123456\n  nfiles: 12\n  hash: md5\n  path: support-chats\n',
  };
}

/** A git-LFS pointer as a clone without `git lfs pull` leaves it (about 130 bytes). */
export function lfsPointer(content = 'model weights'): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256Hex(content)}\nsize 2336927755\n`;
}

/** The first bytes of torch.save output: a zip (PK\x03\x04, holding archive/data.pkl). Never loaded. */
export function torchZipMagic(): Buffer {
  return Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from('archive/data.pkl'), bytes(9, 64)]);
}

/** A raw pickle stream's first bytes (protocol 4), as pickle.dump writes them. Never loaded. */
export function pickleMagic(): Buffer {
  return Buffer.from([0x80, 0x04, 0x95, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x4b, 0x01, 0x2e]);
}
