// A tiny random-weight llama GGUF for engine tests: a real llama.cpp model (llama architecture, SPM byte
// vocabulary) small enough to load in tens of milliseconds and decode hundreds of tokens a second on
// one thread. Different seeds give different weights and so different greedy text.
import { gaussian, mulberry32 } from '../../src/lib/prng.ts';
import { encodeGguf, type GgufTensorSpec } from './gguf.ts';

export interface TinyLlamaOptions {
  seed: number;
  /** Hidden width (default 192). */
  width?: number;
  /** Transformer blocks (default 2). */
  layers?: number;
  /** Attention heads (default 4; width must divide by it). */
  heads?: number;
  /** Feed-forward width (default 2 × width). */
  ffn?: number;
  /** Trained context length written to the metadata (default 512). */
  contextLength?: number;
  name?: string;
}

/** Control tokens, then the 256 byte-fallback tokens, then the printable ASCII pieces (space as ▁). */
const CONTROL = ['<unk>', '<s>', '</s>'];
const BYTES = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
const PRINTABLE = Array.from({ length: 95 }, (_, i) => (i === 0 ? '\u2581' : String.fromCharCode(32 + i)));
export const TINY_LLAMA_VOCAB: readonly string[] = [...CONTROL, ...BYTES, ...PRINTABLE];
/** The first token greedy decoding can produce: control and byte tokens get zero output weights. */
const FIRST_TEXT_TOKEN = CONTROL.length + BYTES.length;

export function tinyLlamaGguf(options: TinyLlamaOptions): Buffer {
  const width = options.width ?? 192;
  const layers = options.layers ?? 2;
  const heads = options.heads ?? 4;
  const ffn = options.ffn ?? width * 2;
  const vocab = TINY_LLAMA_VOCAB.length;
  const rng = mulberry32(options.seed);
  const f32 = (count: number, scale: number, keep?: (i: number) => boolean): Uint8Array => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = keep && !keep(i) ? 0 : gaussian(rng) * scale;
    return new Uint8Array(a.buffer);
  };
  const ones = (count: number) => new Uint8Array(new Float32Array(count).fill(1).buffer);
  const matrix = (name: string, ne0: number, ne1: number, scale = 1 / Math.sqrt(ne0)): GgufTensorSpec => ({
    name,
    type: 'F32',
    dims: [ne0, ne1],
    data: f32(ne0 * ne1, scale),
  });
  const tensors: GgufTensorSpec[] = [
    matrix('token_embd.weight', width, vocab, 1),
    { name: 'output_norm.weight', type: 'F32', dims: [width], data: ones(width) },
    // Rows of tokens greedy decoding must never pick (control, bytes) are zero: their logit is 0 while
    // the best printable token's is positive, so the text stays printable ASCII and never ends early.
    {
      name: 'output.weight',
      type: 'F32',
      dims: [width, vocab],
      data: f32(width * vocab, 1 / Math.sqrt(width), (i) => Math.floor(i / width) >= FIRST_TEXT_TOKEN),
    },
  ];
  for (let l = 0; l < layers; l++) {
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, type: 'F32', dims: [width], data: ones(width) },
      matrix(`blk.${l}.attn_q.weight`, width, width),
      matrix(`blk.${l}.attn_k.weight`, width, width),
      matrix(`blk.${l}.attn_v.weight`, width, width),
      matrix(`blk.${l}.attn_output.weight`, width, width),
      { name: `blk.${l}.ffn_norm.weight`, type: 'F32', dims: [width], data: ones(width) },
      matrix(`blk.${l}.ffn_gate.weight`, width, ffn),
      matrix(`blk.${l}.ffn_up.weight`, width, ffn),
      matrix(`blk.${l}.ffn_down.weight`, ffn, width),
    );
  }
  const tokenType = TINY_LLAMA_VOCAB.map((_, i) =>
    i === 0 ? 2 : i < CONTROL.length ? 3 : i < FIRST_TEXT_TOKEN ? 6 : 1,
  );
  return encodeGguf({
    version: 3,
    metadata: {
      'general.architecture': 'llama',
      'general.name': options.name ?? `tiny-llama-${options.seed}`,
      'llama.context_length': options.contextLength ?? 512,
      'llama.embedding_length': width,
      'llama.block_count': layers,
      'llama.feed_forward_length': ffn,
      'llama.attention.head_count': heads,
      'llama.attention.head_count_kv': heads,
      'llama.rope.dimension_count': width / heads,
      'llama.attention.layer_norm_rms_epsilon': { type: 'float32', value: 1e-5 },
      'general.file_type': 0,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': [...TINY_LLAMA_VOCAB],
      'tokenizer.ggml.scores': { type: 'array', itemType: 'float32', value: TINY_LLAMA_VOCAB.map(() => 0) },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'int32', value: tokenType },
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
      'tokenizer.ggml.add_bos_token': true,
      'tokenizer.ggml.add_eos_token': false,
    },
    tensors,
  });
}

export interface TinyLoraOptions {
  seed: number;
  /** The base's width and blocks (defaults as tinyLlamaGguf's). */
  width?: number;
  layers?: number;
  rank?: number;
  /** Scale numerator: the update is (alpha / rank) · B·A. Default = rank. */
  alpha?: number;
  /** Standard deviation of A's and B's entries (default 0.5: large enough to change greedy text). */
  scale?: number;
}

/** A LoRA adapter GGUF for tinyLlamaGguf's models: A and B for every attention projection. */
export function tinyLoraGguf(options: TinyLoraOptions): Buffer {
  const width = options.width ?? 192;
  const layers = options.layers ?? 2;
  const rank = options.rank ?? 4;
  const scale = options.scale ?? 0.5;
  const rng = mulberry32(options.seed);
  const f32 = (count: number) => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = gaussian(rng) * scale;
    return new Uint8Array(a.buffer);
  };
  const tensors: GgufTensorSpec[] = [];
  for (let l = 0; l < layers; l++)
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output'])
      tensors.push(
        // llama.cpp: lora_a is [in, rank] and lora_b [rank, out] (ne0 first), the base weight [in, out].
        { name: `blk.${l}.${p}.weight.lora_a`, type: 'F32', dims: [width, rank], data: f32(width * rank) },
        { name: `blk.${l}.${p}.weight.lora_b`, type: 'F32', dims: [rank, width], data: f32(rank * width) },
      );
  return encodeGguf({
    version: 3,
    metadata: {
      'general.architecture': 'llama',
      'general.type': 'adapter',
      'general.name': `tiny-lora-${options.seed}`,
      'adapter.type': 'lora',
      'adapter.lora.alpha': { type: 'float32', value: options.alpha ?? rank },
    },
    tensors,
  });
}
