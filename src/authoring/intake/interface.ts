// An interface derived from what the folder says it is (the README pipeline_tag, or a sentence-transformers
// modules.json) and config.json, for a card with no earlier card to copy it from. Only the shapes the
// Hugging Face pipelines fix are derived; anything else stays a person's statement (--interface-from).

type Json = Record<string, unknown>;

export interface InterfaceHints {
  pipelineTag?: string;
  /** The folder is a sentence-transformers model (modules.json). */
  sentenceTransformers?: boolean;
  config?: unknown;
  /** 1_Pooling/config.json word_embedding_dimension, when present. */
  embeddingDimension?: number;
}

const text = [{ name: 'text', dtype: 'string' }];

function labels(config: unknown): string[] | undefined {
  const id2label = (config as Json | undefined)?.id2label;
  if (typeof id2label !== 'object' || id2label === null) return undefined;
  const entries = Object.entries(id2label as Json)
    .filter(([k, v]) => /^\d+$/.test(k) && typeof v === 'string' && v !== '')
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, v]) => v as string);
  return entries.length > 0 && new Set(entries).size === entries.length ? entries : undefined;
}

/** The interface, or undefined when the hints do not fix one. */
export function deriveInterface(h: InterfaceHints): Record<string, unknown> | undefined {
  const tag = h.pipelineTag ?? (h.sentenceTransformers ? 'sentence-similarity' : undefined);
  switch (tag) {
    case 'text-generation':
    case 'text2text-generation':
      return { inputs: [{ name: 'prompt', dtype: 'string' }], outputs: [{ name: 'text', dtype: 'string' }] };
    case 'text-classification': {
      const l = labels(h.config);
      return { inputs: text, outputs: [{ name: 'label', dtype: 'string', ...(l ? { labels: l } : {}) }] };
    }
    case 'token-classification':
      return { inputs: text, outputs: [{ name: 'entities', dtype: 'json' }] };
    case 'feature-extraction':
    case 'sentence-similarity': {
      const hidden = (h.config as Json | undefined)?.hidden_size;
      const dim = h.embeddingDimension ?? (typeof hidden === 'number' ? hidden : undefined);
      return { inputs: text, outputs: [{ name: 'embedding', dtype: 'float32', ...(dim ? { shape: [dim] } : {}) }] };
    }
    default:
      return undefined;
  }
}
