// Model cards from pushed weights (pure: no I/O). What the weights say is filled in by the machine:
// artifacts (path, sha256, size), architecture.format / parameters / dtype from the safetensors headers,
// architecture.family from a Hugging Face config.json `model_type`. What only a person knows (summary,
// training code, interface) comes from the caller, or, in a draft, is left as a placeholder that fails
// validation until it is filled in.
//
// A NEW card is generated whole. An EXISTING card is edited in place with the yaml Document API: only
// `artifacts` and the weight-derived architecture fields change; comments, key order, flow/block style
// and every other field stay as they were, and an unchanged push returns the text byte for byte.
import { Composer, CST, Document, isMap, isScalar, isSeq, parseDocument, Parser } from 'yaml';
import type { Node as YamlNode, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Artifact } from '../registry/types.ts';
import { summarizeTensors, type TensorInfo } from '../formats/safetensors.ts';

export const CARD_SCHEMA_COMMENT = ' yaml-language-server: $schema=../../../schemas/model-version.schema.json';
const TO_STRING = { lineWidth: 0, flowCollectionPadding: false } as const;
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
  /** config.json `model_type`, when present and a valid identifier. */
  family?: string;
  /** Things a person should know (e.g. an unusable config.json). */
  notes: string[];
}

/** safetensors dtype → the card's architecture.dtype enum (schemas/model-version.schema.json). */
const CARD_DTYPES: Readonly<Record<string, string>> = {
  F64: 'f64', F32: 'f32', F16: 'f16', BF16: 'bf16', F8_E4M3: 'f8_e4m3', F8_E5M2: 'f8_e5m2',
  I64: 'i64', I32: 'i32', I16: 'i16', I8: 'i8', U8: 'u8', BOOL: 'bool',
};

export function cardDtype(safetensorsDtype: string): string | undefined {
  return CARD_DTYPES[safetensorsDtype];
}

/**
 * Derive the facts. `tensors` are the tensors of every safetensors file of the folder; `config` is the
 * parsed config.json at the folder's top level, if any.
 */
export function weightFacts(artifacts: readonly Artifact[], tensors: readonly TensorInfo[], config?: unknown): WeightFacts {
  const sorted = [...artifacts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const a of sorted) {
    if (!ARTIFACT_PATH.test(a.path)) {
      throw new UserError(`file "${a.path}" cannot be an artifact: paths may use only letters, digits, _ . + @ = - and / (rename it)`);
    }
  }
  const ext = (e: string) => sorted.some((a) => a.path.toLowerCase().endsWith(e));
  const format: WeightFormat = ext('.safetensors') ? 'safetensors' : ext('.gguf') ? 'gguf' : ext('.onnx') ? 'onnx' : 'other';
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
  if (config !== undefined) {
    const modelType = typeof config === 'object' && config !== null ? (config as Record<string, unknown>).model_type : undefined;
    if (typeof modelType === 'string' && FAMILY.test(modelType)) facts.family = modelType;
    else if (modelType !== undefined) facts.notes.push(`config.json model_type ${JSON.stringify(modelType)} is not a valid family name; not used`);
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
  if (inputs.family !== undefined && !FAMILY.test(inputs.family)) throw new UserError(`--family "${inputs.family}" must be letters, digits, _ . - (e.g. bert, llama)`);
  if (inputs.codeRepository !== undefined && !CODE_REPOSITORY.test(inputs.codeRepository)) {
    throw new UserError(`--code-repo "${inputs.codeRepository}" must be a GitHub repository as owner/name`);
  }
  if (inputs.codeCommit !== undefined && !GIT_COMMIT.test(inputs.codeCommit)) {
    throw new UserError(`--code-commit "${inputs.codeCommit}" must be a full commit id (40 or 64 lowercase hex characters)`);
  }
  if (!inputs.summary) missing.push({ field: 'summary', how: '--summary "what changed and why"' });
  if (!inputs.interfaceFrom) missing.push({ field: 'interface', how: '--interface-from VERSION (copy it from an earlier card), or --parent VERSION' });
  if (!inputs.family && !facts.family) missing.push({ field: 'architecture.family', how: '--family NAME (no config.json with a model_type in the folder)' });
  if (!inputs.codeRepository) missing.push({ field: 'lineage.code.repository', how: '--code-repo owner/name (or --code-dir with a GitHub remote)' });
  if (!inputs.codeCommit) missing.push({ field: 'lineage.code.commit', how: '--code-commit SHA (or --code-dir DIR: its HEAD)' });
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

const TODO = (what: string) => ` TODO(model-gitops push): ${what}`;

function placeholder(doc: Document, what: string): Scalar {
  const s = doc.createNode(null) as Scalar;
  s.comment = TODO(what);
  return s;
}

function artifactNode(doc: Document, a: Artifact): YamlNode {
  return doc.createNode({ path: a.path, sha256: a.sha256, size: a.size }, { flow: true }) as YamlNode;
}

/** The interface mapping of another card, as a node (its flow/block style kept). */
function interfaceNode(doc: Document, from: { label: string; text: string }): YamlNode {
  const src = parseDocument(from.text, { version: '1.2', uniqueKeys: true });
  if (src.errors.length > 0) throw new UserError(`${from.label}: not valid YAML: ${src.errors[0]!.message}`);
  const node = src.get('interface', true);
  if (!isMap(node)) throw new UserError(`${from.label} has no interface mapping to copy`);
  return node.clone() as YamlNode;
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
export function newCardText(inputs: CardInputs, facts: WeightFacts, options: { draft?: boolean; file?: string } = {}): NewCardResult {
  const file = options.file ?? `models/${inputs.name}/versions/${inputs.version}.yaml`;
  const missing = missingFields(inputs, facts);
  if (missing.length > 0 && !options.draft) throw new UserError(describeMissing(file, missing), { exitCode: 1 });
  const notes = [...facts.notes];
  const doc = new Document({}, { version: '1.2' });
  const root = doc.contents as YAMLMap;
  root.set('name', inputs.name);
  root.set('version', inputs.version);
  root.set('summary', inputs.summary ? inputs.summary : placeholder(doc, 'one or two sentences: what changed in this version and why (--summary)'));

  if (inputs.interfaceFrom) {
    const node = interfaceNode(doc, inputs.interfaceFrom);
    // The tokenizer is part of the interface: if the pushed tokenizer.json differs from the one the
    // copied interface names, the copy would lie. Record the new digest and say what it means.
    const tok = isMap(node) ? node.get('tokenizer', true) : undefined;
    const tokenizerFile = facts.artifacts.find((a) => a.path === 'tokenizer.json');
    if (isMap(tok) && tokenizerFile && tok.get('sha256') !== tokenizerFile.sha256) {
      tok.set('sha256', tokenizerFile.sha256);
      notes.push(`interface.tokenizer.sha256 set to the pushed tokenizer.json (it differs from ${inputs.interfaceFrom.label}): a tokenizer change breaks callers, so expect a major version bump`);
    }
    root.set('interface', node);
  } else {
    const i = doc.createNode({}) as YAMLMap;
    i.set('inputs', placeholder(doc, 'list of {name, dtype}: what the model takes (or --interface-from VERSION)'));
    i.set('outputs', placeholder(doc, 'list of {name, dtype, labels?}: what it returns'));
    root.set('interface', i);
  }

  const family = inputs.family ?? facts.family;
  const arch = doc.createNode({}) as YAMLMap;
  arch.flow = !!family;
  arch.set('family', family ?? placeholder(doc, 'model family, e.g. bert, llama (--family)'));
  if (facts.parameters !== undefined) arch.set('parameters', facts.parameters);
  arch.set('format', facts.format);
  if (facts.dtype !== undefined) arch.set('dtype', facts.dtype);
  root.set('architecture', arch);

  if (facts.artifacts.length === 0) throw new UserError('the model folder has no files: nothing to record as artifacts', { exitCode: 1 });
  const artifacts = doc.createNode([]) as YAMLSeq;
  for (const a of facts.artifacts) artifacts.add(artifactNode(doc, a));
  root.set('artifacts', artifacts);

  const lineage = doc.createNode({}) as YAMLMap;
  if (inputs.parent) lineage.set('parent', inputs.parent);
  const code = doc.createNode({}) as YAMLMap;
  code.flow = !!(inputs.codeRepository && inputs.codeCommit);
  code.set('repository', inputs.codeRepository ?? placeholder(doc, 'training code repository as owner/name (--code-repo)'));
  code.set('commit', inputs.codeCommit ?? placeholder(doc, 'full commit id of the training code (--code-commit or --code-dir)'));
  lineage.set('code', code);
  root.set('lineage', lineage);

  return { text: `#${CARD_SCHEMA_COMMENT}\n${doc.toString(TO_STRING)}`, placeholders: missing.map((m) => m.field), notes };
}

export interface UpdateCardResult {
  text: string;
  changed: boolean;
  /** Fields that changed, e.g. `artifacts[0].sha256`, `architecture.parameters`. */
  changes: string[];
  notes: string[];
}

/**
 * Update an existing card's artifacts and weight-derived architecture fields (format, parameters,
 * dtype), leaving everything else as written. Artifacts keep their order and comments; one whose
 * path is gone is removed, a new one is appended. Fields the weights cannot tell (gguf parameters,
 * an unmappable dtype) are left as they are. The family is a person's statement and is never rewritten.
 *
 * The edit is made on the concrete syntax tree (yaml's CST), so only the changed scalars' bytes change:
 * numbers keep their spelling (2.0e-5 stays 2.0e-5), quotes and comments stay. Where the card's shape
 * makes that impossible (no artifacts list yet, a flow-style list...), the Document API rewrites it,
 * which keeps comments but may normalise some scalars.
 */
export function updateCardText(file: string, text: string, facts: WeightFacts): UpdateCardResult {
  const tokens = [...new Parser().parse(text)];
  const docs = [...new Composer({ version: '1.2', uniqueKeys: true, keepSourceTokens: true }).compose(tokens)];
  const doc = docs[0];
  if (!doc || docs.length !== 1 || doc.errors.length > 0) {
    throw new UserError(`${file}: not valid YAML, fix it before pushing${doc?.errors[0] ? `: ${doc.errors[0].message}` : ''}`, { exitCode: 1 });
  }
  const root = doc.contents;
  if (!isMap(root)) throw new UserError(`${file}: not a mapping; fix it before pushing`, { exitCode: 1 });
  const plan = planUpdate(root, facts);
  if (plan.changes.length === 0) return { text, changed: false, changes: [], notes: plan.notes };
  const viaCst = applyViaCst(root, tokens, plan, facts);
  if (viaCst !== undefined && sameResult(viaCst, plan)) return { text: viaCst, changed: true, changes: plan.changes, notes: plan.notes };
  const reparsed = parseDocument(text, { version: '1.2', uniqueKeys: true });
  return { text: applyViaDocument(reparsed, plan, facts), changed: true, changes: plan.changes, notes: plan.notes };
}

interface UpdatePlan {
  changes: string[];
  notes: string[];
  /** The artifacts list the card must end with, in order. */
  artifacts: Artifact[];
  /** Architecture fields to set. */
  arch: Map<string, string | number>;
}

function planUpdate(root: YAMLMap, facts: WeightFacts): UpdatePlan {
  const changes: string[] = [];
  const notes = [...facts.notes];
  const wanted = new Map(facts.artifacts.map((a) => [a.path, a]));
  const current = root.toJSON() as Record<string, unknown>;
  const have = Array.isArray(current.artifacts) ? (current.artifacts as Record<string, unknown>[]) : [];
  const artifacts: Artifact[] = [];
  const seen = new Set<string>();
  for (const item of have) {
    const path = item && typeof item === 'object' ? item.path : undefined;
    const a = typeof path === 'string' ? wanted.get(path) : undefined;
    if (!a || seen.has(a.path)) { changes.push(`artifacts: removed ${typeof path === 'string' ? path : 'an entry without a path'}`); continue; }
    seen.add(a.path);
    artifacts.push(a);
    for (const k of ['sha256', 'size'] as const) if (item[k] !== a[k]) changes.push(`artifacts[${a.path}].${k}`);
  }
  for (const a of facts.artifacts) {
    if (!seen.has(a.path)) { artifacts.push(a); changes.push(`artifacts: added ${a.path}`); }
  }
  if (!Array.isArray(current.artifacts)) changes.push('artifacts');
  const arch = new Map<string, string | number>();
  const curArch = current.architecture && typeof current.architecture === 'object' ? (current.architecture as Record<string, unknown>) : {};
  for (const [k, v] of [['format', facts.format], ['parameters', facts.parameters], ['dtype', facts.dtype]] as const) {
    if (v === undefined || curArch[k] === v) continue;
    arch.set(k, v);
    changes.push(`architecture.${k}`);
  }
  if (facts.family && typeof curArch.family === 'string' && curArch.family !== facts.family) {
    notes.push(`architecture.family is "${curArch.family}" but config.json says model_type "${facts.family}"; left as written`);
  }
  return { changes, notes, artifacts, arch };
}

function sameResult(text: string, plan: UpdatePlan): boolean {
  const d = parseDocument(text, { version: '1.2', uniqueKeys: true });
  if (d.errors.length > 0) return false;
  const j = d.toJSON() as { artifacts?: unknown; architecture?: Record<string, unknown> };
  const want = plan.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, size: a.size }));
  if (JSON.stringify(j.artifacts) !== JSON.stringify(want)) return false;
  for (const [k, v] of plan.arch) if (j.architecture?.[k] !== v) return false;
  return true;
}

type Tok = CST.Token;
type Item = CST.CollectionItem;

function keyOf(item: Item): string | undefined {
  return item.key && CST.isScalar(item.key) ? (CST.resolveAsScalar(item.key)?.value ?? undefined) : undefined;
}

/** A copy of `item` for appending to its collection: comments dropped, indentation kept. */
function cloneItem(item: Item, indent: number, blockSeq: boolean): Item {
  const c = structuredClone(item);
  const lastNl = c.start.map((t) => t.type).lastIndexOf('newline');
  c.start = c.start.slice(lastNl + 1).filter((t) => t.type !== 'comment');
  if (blockSeq && indent > 0 && c.start[0]?.type !== 'space') c.start.unshift({ type: 'space', offset: 0, indent: 0, source: ' '.repeat(indent) });
  const dropComments = (end: CST.SourceToken[] | undefined) => {
    if (!end) return end;
    const i = end.findIndex((t) => t.type === 'comment');
    if (i < 0) return end;
    let j = i;
    while (j > 0 && end[j - 1]!.type === 'space') j--;
    return [...end.slice(0, j), ...end.slice(i + 1)];
  };
  const v = c.value as (Tok & { end?: CST.SourceToken[] }) | undefined;
  if (v && 'end' in v && Array.isArray(v.end)) v.end = dropComments(v.end);
  return c;
}

function setIn(collection: Tok | undefined, key: string, value: string | number): boolean {
  if (!collection || !(collection.type === 'flow-collection' || collection.type === 'block-map')) return false;
  const item = collection.items.find((i) => keyOf(i) === key);
  if (!item?.value || !CST.isScalar(item.value)) return false;
  CST.setScalarValue(item.value, String(value));
  return true;
}

function applyViaCst(root: YAMLMap, tokens: Tok[], plan: UpdatePlan, facts: WeightFacts): string | undefined {
  void facts;
  const seqNode = root.get('artifacts', true) as YAMLSeq | undefined;
  const seqTok = (seqNode as { srcToken?: Tok } | undefined)?.srcToken;
  if (!seqTok || seqTok.type !== 'block-seq' || seqTok.items.length === 0) return undefined;
  const byPath = new Map<string, Item>();
  for (const it of seqTok.items) {
    const v = it.value;
    if (v && (v.type === 'flow-collection' || v.type === 'block-map')) {
      const pathItem = v.items.find((i) => keyOf(i) === 'path');
      const p = pathItem?.value && CST.isScalar(pathItem.value) ? CST.resolveAsScalar(pathItem.value)?.value : undefined;
      if (p !== undefined && !byPath.has(p)) byPath.set(p, it);
    }
  }
  const template = seqTok.items[seqTok.items.length - 1]!;
  const items: Item[] = [];
  for (const a of plan.artifacts) {
    let it = byPath.get(a.path);
    if (!it) {
      it = cloneItem(template, seqTok.indent, true);
      if (!setIn(it.value, 'path', a.path)) return undefined;
    }
    for (const k of ['sha256', 'size'] as const) {
      const cur = it.value && 'items' in it.value ? it.value.items.find((i) => keyOf(i) === k) : undefined;
      const curVal = cur?.value && CST.isScalar(cur.value) ? CST.resolveAsScalar(cur.value)?.value : undefined;
      if (curVal !== String(a[k]) && !setIn(it.value, k, a[k])) return undefined;
    }
    items.push(it);
  }
  (seqTok as { items: Item[] }).items = items;

  if (plan.arch.size > 0) {
    const archTok = (root.get('architecture', true) as { srcToken?: Tok } | undefined)?.srcToken;
    if (!archTok || !(archTok.type === 'flow-collection' || archTok.type === 'block-map') || archTok.items.length === 0) return undefined;
    for (const [k, v] of plan.arch) {
      if (setIn(archTok, k, v)) continue;
      if (archTok.items.length < 2 && archTok.type === 'flow-collection') return undefined; // no separator to copy
      const c = cloneItem(archTok.items[archTok.items.length - 1]!, archTok.indent, false);
      if (!c.key || !CST.isScalar(c.key) || !c.value || !CST.isScalar(c.value)) return undefined;
      CST.setScalarValue(c.key, k);
      CST.setScalarValue(c.value, String(v));
      (archTok.items as Item[]).push(c);
    }
  }
  return tokens.map((t) => CST.stringify(t)).join('');
}

function applyViaDocument(doc: Document.Parsed, plan: UpdatePlan, facts: WeightFacts): string {
  const root = doc.contents as unknown as YAMLMap;
  let seq: unknown = root.get('artifacts', true);
  if (!isSeq(seq)) {
    seq = doc.createNode([]) as YAMLSeq;
    root.set('artifacts', seq);
  }
  const old = new Map<string, unknown>();
  for (const item of (seq as YAMLSeq).items) {
    const p = isMap(item) ? item.get('path') : undefined;
    if (typeof p === 'string' && !old.has(p)) old.set(p, item);
  }
  (seq as YAMLSeq).items = plan.artifacts.map((a) => {
    const item = old.get(a.path);
    if (!isMap(item)) return artifactNode(doc, a);
    setKeepingStyle(item, 'sha256', a.sha256);
    setKeepingStyle(item, 'size', a.size);
    return item;
  }) as never;
  let arch: unknown = root.get('architecture', true);
  if (!isMap(arch)) {
    arch = doc.createNode({ family: facts.family ?? null, format: facts.format }, { flow: true });
    root.set('architecture', arch);
  }
  for (const [k, v] of plan.arch) setKeepingStyle(arch as YAMLMap, k, v);
  return doc.toString(TO_STRING);
}

function setKeepingStyle(map: YAMLMap, key: string, value: string | number): void {
  const node = map.get(key, true);
  if (isScalar(node)) node.value = value;
  else map.set(key, value);
}
