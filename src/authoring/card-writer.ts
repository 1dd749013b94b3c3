// Model cards from pushed weights (pure: no I/O). What the weights say is filled in by the machine:
// artifacts (path, sha256, size), architecture.format / parameters / dtype from the safetensors headers,
// architecture.family from a Hugging Face config.json `model_type`. What only a person knows (summary,
// training code, interface) comes from the caller, or, in a draft, is left as a placeholder that fails
// validation until it is filled in.
//
// A NEW card is generated whole (here). An EXISTING card is edited in place (card-update.ts): only
// `artifacts` and the weight-derived architecture fields change; comments, key order, flow/block style
// and every other field stay as they were, and an unchanged push returns the text byte for byte.
import { Document, isMap, isScalar, parseDocument } from 'yaml';
import type { Node as YamlNode, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { summarizeTensors, type TensorInfo } from '../formats/safetensors.ts';
import type { GgufFacts } from '../formats/gguf.ts';
import type { Artifact, BaseRef } from '../registry/types.ts';
import type { HubSource } from './intake/hf-cache.ts';
import { TO_STRING, artifactNode } from './card-yaml.ts';
import { EXIT } from '../lib/exit-codes.ts';

export { type UpdateCardResult, updateCardText } from './card-update.ts';

export const CARD_SCHEMA_COMMENT = ' yaml-language-server: $schema=../../../schemas/model-version.schema.json';
const FAMILY = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** The schema's artifacts[].path pattern. */
export const ARTIFACT_PATH = /^[A-Za-z0-9_.+@=-][A-Za-z0-9_.+@=/-]*$/;
const CODE_REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const GIT_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export type WeightFormat = 'safetensors' | 'gguf' | 'onnx' | 'other';

/** What the pushed files tell about the version, independent of any person. */
export interface WeightFacts {
  /** Sorted by path. */
  artifacts: Artifact[];
  format: WeightFormat;
  /** Sum over every safetensors file (sharded checkpoints included); absent without safetensors files. */
  parameters?: number;
  /** The card's name for the dtype holding the most bytes (bf16, f32...); absent when unknown or unmappable. */
  dtype?: string;
  /** The safetensors dtype name when it has no card equivalent (reported, not written). */
  unmappedDtype?: string;
  /** config.json `model_type` (or a GGUF's general.architecture), when present and a valid identifier. */
  family?: string;
  /** Things a person should know (e.g. an unusable config.json). */
  notes: string[];
}

/** safetensors dtype → the card's architecture.dtype enum (schemas/model-version.schema.json). */
const CARD_DTYPES: Readonly<Record<string, string>> = {
  F64: 'f64',
  F32: 'f32',
  F16: 'f16',
  BF16: 'bf16',
  F8_E4M3: 'f8_e4m3',
  F8_E5M2: 'f8_e5m2',
  I64: 'i64',
  I32: 'i32',
  I16: 'i16',
  I8: 'i8',
  U8: 'u8',
  BOOL: 'bool',
};

export function cardDtype(safetensorsDtype: string): string | undefined {
  return CARD_DTYPES[safetensorsDtype];
}

/** GGUF quantization names the card's dtype enum has (llama.cpp's file types, lower-cased, MOSTLY_/ALL_ dropped). */
const GGUF_CARD_DTYPES = new Set(['f32', 'f16', 'bf16', 'q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q4_0']);

export function ggufCardDtype(g: GgufFacts): string | undefined {
  for (const name of [g.quantization, g.dtype]) {
    const d = name?.replace(/^(?:MOSTLY|ALL)_/, '').toLowerCase();
    if (d && GGUF_CARD_DTYPES.has(d)) return d;
  }
  return undefined;
}

/**
 * Derive the facts. `tensors` are the tensors of every safetensors file of the folder; `config` is the
 * parsed config.json at the folder's top level, if any.
 */
export function weightFacts(
  artifacts: readonly Artifact[],
  tensors: readonly TensorInfo[],
  config?: unknown,
  gguf?: readonly GgufFacts[],
): WeightFacts {
  const sorted = [...artifacts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const a of sorted) {
    if (!ARTIFACT_PATH.test(a.path)) {
      throw new UserError(
        `file "${a.path}" cannot be an artifact: paths may use only letters, digits, _ . + @ = - and / (rename it)`,
      );
    }
  }
  const ext = (e: string) => sorted.some((a) => a.path.toLowerCase().endsWith(e));
  const format: WeightFormat = ext('.safetensors')
    ? 'safetensors'
    : ext('.gguf')
      ? 'gguf'
      : ext('.onnx')
        ? 'onnx'
        : 'other';
  const facts: WeightFacts = { artifacts: sorted, format, notes: [] };
  if (ext('.safetensors')) {
    const s = summarizeTensors(tensors);
    facts.parameters = s.parameters;
    if (s.dtype !== undefined) {
      const d = cardDtype(s.dtype);
      if (d) facts.dtype = d;
      else {
        facts.unmappedDtype = s.dtype;
        facts.notes.push(`dominant dtype ${s.dtype} has no architecture.dtype equivalent; dtype left out`);
      }
    }
  }
  if (format === 'gguf' && gguf && gguf.length > 0) {
    // One model per folder is the common case; several GGUF files (e.g. two quantizations) add up to
    // nothing meaningful, so parameters and dtype come from the first only, with a note.
    const g = gguf[0]!;
    facts.parameters = g.parameters;
    const d = ggufCardDtype(g);
    if (d) facts.dtype = d;
    else if (g.quantization || g.dtype)
      facts.notes.push(`GGUF type ${g.quantization ?? g.dtype} has no architecture.dtype equivalent; dtype left out`);
    if (g.family !== undefined && FAMILY.test(g.family)) facts.family = g.family;
    if (gguf.length > 1)
      facts.notes.push(`${gguf.length} GGUF files: architecture parameters and dtype are the first one's`);
  }
  if (config !== undefined) {
    const modelType =
      typeof config === 'object' && config !== null ? (config as Record<string, unknown>).model_type : undefined;
    if (typeof modelType === 'string' && FAMILY.test(modelType)) facts.family = modelType;
    else if (modelType !== undefined)
      facts.notes.push(`config.json model_type ${JSON.stringify(modelType)} is not a valid family name; not used`);
  }
  return facts;
}

/** What a person supplies for a new card (CLI flags, action inputs). */
export interface CardInputs {
  name: string;
  version: string;
  /** --summary */
  summary?: string;
  /** --family: overrides config.json model_type. */
  family?: string;
  /** --code-repo owner/name */
  codeRepository?: string;
  /** --code-commit (or the HEAD of --code-dir) */
  codeCommit?: string;
  /** --parent: model@version this one was trained from. */
  parent?: string;
  /** The text of the card the interface is copied from (--interface-from), and its label for messages. */
  interfaceFrom?: { label: string; text: string };
  /** The parent's card (--parent): family and serving are inherited from it when the folder does not say. */
  parentCard?: { label: string; text: string };
  /** The base model (--base, or resolved from adapter_config.json / README.md base_model). */
  base?: BaseRef;
  /** The folder is a PEFT adapter: `base` is required. `baseHint` says how to give it. */
  adapter?: { baseHint: string };
  /** Derived from the folder (importers): recorded as given. */
  derived?: DerivedFacts;
}

/** What importers read from the folder: hub snapshot, README front matter, Trainer output, DVC, tokenizer files. */
export interface DerivedFacts {
  source?: HubSource;
  license?: string;
  language?: string[];
  pipelineTag?: string;
  datasets?: { name: string; uri?: string; sha256?: string; md5?: string }[];
  hyperparameters?: Record<string, number | string | boolean>;
  durationSeconds?: number;
  metrics?: Record<string, number>;
  /** An interface derived from the pipeline tag and config.json (when no card to copy it from is named). */
  interface?: Record<string, unknown>;
  /** sha256 of tokenizer_config.json, when present. */
  tokenizerConfigSha256?: string;
  /** sha256 of the chat template text and where it was read from. */
  chatTemplate?: { sha256: string; source: string };
}

export interface MissingField {
  /** Dotted field path in the card. */
  field: string;
  /** How to provide it. */
  how: string;
}

/** The fields a new card still lacks (empty when it can be written complete). Malformed values are errors. */
export function missingFields(inputs: CardInputs, facts: WeightFacts): MissingField[] {
  const missing: MissingField[] = [];
  if (inputs.summary !== undefined && inputs.summary.trim() === '') throw new UserError('--summary must not be empty');
  if (inputs.family !== undefined && !FAMILY.test(inputs.family))
    throw new UserError(`--family "${inputs.family}" must be letters, digits, _ . - (e.g. bert, llama)`);
  if (inputs.codeRepository !== undefined && !CODE_REPOSITORY.test(inputs.codeRepository)) {
    throw new UserError(`--code-repo "${inputs.codeRepository}" must be a GitHub repository as owner/name`);
  }
  if (inputs.codeCommit !== undefined && !GIT_COMMIT.test(inputs.codeCommit)) {
    throw new UserError(
      `--code-commit "${inputs.codeCommit}" must be a full commit id (40 or 64 lowercase hex characters)`,
    );
  }
  if (!inputs.summary) missing.push({ field: 'summary', how: '--summary "what changed and why"' });
  if (!inputs.interfaceFrom && !inputs.derived?.interface)
    missing.push({
      field: 'interface',
      how: '--interface-from VERSION (copy it from an earlier card), or --parent VERSION',
    });
  if (inputs.adapter && !inputs.base) missing.push({ field: 'base', how: inputs.adapter.baseHint });
  if (!inputs.family && !facts.family && !parentFamily(inputs))
    missing.push({
      field: 'architecture.family',
      how: '--family NAME (no config.json with a model_type in the folder)',
    });
  if (!inputs.codeRepository)
    missing.push({
      field: 'lineage.code.repository',
      how: '--code-repo owner/name (or --code-dir with a GitHub remote)',
    });
  if (!inputs.codeCommit)
    missing.push({ field: 'lineage.code.commit', how: '--code-commit SHA (or --code-dir DIR: its HEAD)' });
  return missing;
}

export function describeMissing(file: string, missing: readonly MissingField[]): string {
  const w = Math.max(...missing.map((m) => m.field.length));
  return [
    `${file} would be a new card, and ${missing.length === 1 ? 'this field is' : 'these fields are'} still missing:`,
    ...missing.map((m) => `  ${m.field.padEnd(w)}  ${m.how}`),
    'Give them, or pass --draft to write the card with placeholders that fail validation until you fill them in.',
  ].join('\n');
}

function parseCard(from: { label: string; text: string }): Document {
  const src = parseDocument(from.text, { version: '1.2', uniqueKeys: true });
  if (src.errors.length > 0) throw new UserError(`${from.label}: not valid YAML: ${src.errors[0]!.message}`);
  return src;
}

/** A field of the parent card (family, serving...), as a node clone, or undefined. */
function parentField(inputs: CardInputs, path: string[]): YamlNode | undefined {
  if (!inputs.parentCard) return undefined;
  const n = parseCard(inputs.parentCard).getIn(path, true) as YamlNode | undefined;
  return n === undefined || n === null ? undefined : (n.clone() as YamlNode);
}

/** The parent card's architecture.family, when it is a usable one. */
function parentFamily(inputs: CardInputs): string | undefined {
  const n = parentField(inputs, ['architecture', 'family']);
  const v = isScalar(n) ? n.value : undefined;
  return typeof v === 'string' && FAMILY.test(v) ? v : undefined;
}

const TODO = (what: string) => ` TODO(model-gitops push): ${what}`;

function placeholder(doc: Document, what: string): Scalar {
  const s = doc.createNode(null) as Scalar;
  s.comment = TODO(what);
  return s;
}

/** The interface mapping of another card, as a node (its flow/block style kept). */
function interfaceNode(doc: Document, from: { label: string; text: string }): YamlNode {
  const src = parseCard(from);
  const node = src.get('interface', true);
  if (!isMap(node)) throw new UserError(`${from.label} has no interface mapping to copy`);
  return node.clone() as YamlNode;
}

/** A derived interface in the layout hand-written cards use: `inputs: [{name: text, dtype: string}]`. */
function derivedInterfaceNode(doc: Document, iface: Record<string, unknown>): YamlNode {
  const node = doc.createNode(iface) as YAMLMap;
  for (const key of ['inputs', 'outputs']) {
    const seq = node.get(key, true) as YAMLSeq | undefined;
    if (seq) seq.flow = true;
  }
  return node;
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface NewCardResult {
  text: string;
  /** Fields left as placeholders (draft only). */
  placeholders: string[];
  notes: string[];
}

/**
 * A complete card (or, with `draft`, one whose missing fields are null placeholders marked TODO, which
 * the schema rejects until a person fills them in). Without `draft`, missing fields are an error.
 */
export function newCardText(
  inputs: CardInputs,
  facts: WeightFacts,
  options: { draft?: boolean; file?: string } = {},
): NewCardResult {
  const file = options.file ?? `models/${inputs.name}/versions/${inputs.version}.yaml`;
  const missing = missingFields(inputs, facts);
  if (missing.length > 0 && !options.draft)
    throw new UserError(describeMissing(file, missing), { exitCode: EXIT.violations });
  const notes = [...facts.notes];
  const doc = new Document({}, { version: '1.2' });
  const root = doc.contents as YAMLMap;
  root.set('name', inputs.name);
  root.set('version', inputs.version);
  root.set(
    'summary',
    inputs.summary
      ? inputs.summary
      : placeholder(doc, 'one or two sentences: what changed in this version and why (--summary)'),
  );

  const derived = inputs.derived ?? {};
  if (derived.license) root.set('license', derived.license);
  if (derived.language?.length) root.set('language', doc.createNode(derived.language, { flow: true }));
  if (derived.pipelineTag) root.set('pipelineTag', derived.pipelineTag);

  if (inputs.interfaceFrom || derived.interface) {
    const node = inputs.interfaceFrom
      ? interfaceNode(doc, inputs.interfaceFrom)
      : derivedInterfaceNode(doc, derived.interface!);
    const label = inputs.interfaceFrom?.label ?? 'the derived interface';
    // The tokenizer is part of the interface: if the pushed tokenizer.json differs from the one the
    // copied interface names, the copy would lie. Record the new digest and say what it means.
    const tok = isMap(node) ? node.get('tokenizer', true) : undefined;
    const tokenizerFile = facts.artifacts.find((a) => a.path === 'tokenizer.json');
    if (isMap(tok) && tokenizerFile && tok.get('sha256') !== tokenizerFile.sha256) {
      tok.set('sha256', tokenizerFile.sha256);
      notes.push(
        `interface.tokenizer.sha256 set to the pushed tokenizer.json (it differs from ${label}): a tokenizer change breaks callers, so expect a major version bump`,
      );
    }
    // tokenizer_config.json (special tokens, BOS/EOS) and the chat template change what the model is
    // asked: their digests are part of the interface (review decides the bump).
    if (isMap(tok)) {
      const had = tok.get('configSha256');
      const digest = derived.tokenizerConfigSha256;
      // Absent from the folder (an adapter uses its base's tokenizer): the copied digest stands.
      if (digest !== undefined && had !== digest) {
        tok.set('configSha256', digest);
        if (had !== undefined)
          notes.push(
            `interface.tokenizer.configSha256 set to the pushed tokenizer_config.json (it differs from ${label})`,
          );
      }
    } else if (derived.tokenizerConfigSha256 && tokenizerFile && isMap(node)) {
      node.set(
        'tokenizer',
        doc.createNode(
          {
            name: `${inputs.name}-tokenizer`,
            sha256: tokenizerFile.sha256,
            configSha256: derived.tokenizerConfigSha256,
          },
          { flow: true },
        ),
      );
      notes.push('interface.tokenizer recorded from the pushed tokenizer.json and tokenizer_config.json');
    }
    if (isMap(node)) {
      const had = node.getIn(['chatTemplate', 'sha256']);
      const t = derived.chatTemplate;
      if (t !== undefined && had !== t.sha256) {
        node.set('chatTemplate', doc.createNode({ ...t }, { flow: true }));
        if (had !== undefined)
          notes.push(`interface.chatTemplate set from the pushed ${t.source} (it differs from ${label})`);
      }
    }
    root.set('interface', node);
  } else {
    const i = doc.createNode({}) as YAMLMap;
    i.set('inputs', placeholder(doc, 'list of {name, dtype}: what the model takes (or --interface-from VERSION)'));
    i.set('outputs', placeholder(doc, 'list of {name, dtype, labels?}: what it returns'));
    root.set('interface', i);
  }

  const family = inputs.family ?? facts.family ?? parentFamily(inputs);
  if (!inputs.family && !facts.family && family)
    notes.push(`architecture.family ${family} inherited from ${inputs.parentCard!.label}`);
  const arch = doc.createNode({}) as YAMLMap;
  arch.flow = !!family;
  arch.set('family', family ?? placeholder(doc, 'model family, e.g. bert, llama (--family)'));
  if (facts.parameters !== undefined) arch.set('parameters', facts.parameters);
  arch.set('format', facts.format);
  if (facts.dtype !== undefined) arch.set('dtype', facts.dtype);
  root.set('architecture', arch);

  if (facts.artifacts.length === 0)
    throw new UserError('the model folder has no files: nothing to record as artifacts', { exitCode: EXIT.violations });
  const artifacts = doc.createNode([]) as YAMLSeq;
  for (const a of facts.artifacts) artifacts.add(artifactNode(doc, a));
  root.set('artifacts', artifacts);

  if (inputs.base) root.set('base', doc.createNode({ ...inputs.base }, { flow: true }));
  else if (inputs.adapter)
    root.set('base', placeholder(doc, `{model, range, relation: adapter}: ${inputs.adapter.baseHint}`));

  const lineage = doc.createNode({}) as YAMLMap;
  if (inputs.parent) lineage.set('parent', inputs.parent);
  if (derived.source) lineage.set('source', doc.createNode({ ...derived.source }, { flow: true }));
  const code = doc.createNode({}) as YAMLMap;
  code.flow = !!(inputs.codeRepository && inputs.codeCommit);
  code.set(
    'repository',
    inputs.codeRepository ?? placeholder(doc, 'training code repository as owner/name (--code-repo)'),
  );
  code.set(
    'commit',
    inputs.codeCommit ?? placeholder(doc, 'full commit id of the training code (--code-commit or --code-dir)'),
  );
  lineage.set('code', code);
  if (derived.datasets?.length) {
    const ds = doc.createNode([]) as YAMLSeq;
    for (const d of derived.datasets) ds.add(doc.createNode(d, { flow: true }));
    lineage.set('datasets', ds);
  }
  if (derived.hyperparameters && Object.keys(derived.hyperparameters).length)
    lineage.set('hyperparameters', doc.createNode(sortedRecord(derived.hyperparameters), { flow: true }));
  if (derived.durationSeconds !== undefined)
    lineage.set('training', doc.createNode({ duration_s: derived.durationSeconds }, { flow: true }));
  root.set('lineage', lineage);
  if (derived.metrics && Object.keys(derived.metrics).length)
    root.set('metrics', doc.createNode(sortedRecord(derived.metrics), { flow: true }));
  const serving = parentField(inputs, ['serving']);
  if (serving) root.set('serving', serving); // the parent's engine serves its retrained weights too

  return {
    text: `#${CARD_SCHEMA_COMMENT}\n${doc.toString(TO_STRING)}`,
    placeholders: missing.map((m) => m.field),
    notes,
  };
}
