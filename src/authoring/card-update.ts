// Editing an existing card in place after a push: only `artifacts` and the weight-derived architecture
// fields change; comments, key order, flow/block style and every other field stay as they were, and an
// unchanged push returns the text byte for byte.
import { Composer, CST, type Document, isMap, isScalar, isSeq, parseDocument, Parser } from 'yaml';
import type { YAMLMap, YAMLSeq } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Artifact } from '../registry/types.ts';
import type { WeightFacts } from './card-writer.ts';
import { TO_STRING, artifactNode } from './card-yaml.ts';
import { EXIT } from '../lib/exit-codes.ts';

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
    throw new UserError(
      `${file}: not valid YAML, fix it before pushing${doc?.errors[0] ? `: ${doc.errors[0].message}` : ''}`,
      { exitCode: EXIT.violations },
    );
  }
  const root = doc.contents;
  if (!isMap(root)) throw new UserError(`${file}: not a mapping; fix it before pushing`, { exitCode: EXIT.violations });
  const plan = planUpdate(root, facts);
  if (plan.changes.length === 0) return { text, changed: false, changes: [], notes: plan.notes };
  const viaCst = applyViaCst(root, tokens, plan, facts);
  if (viaCst !== undefined && sameResult(viaCst, plan))
    return { text: viaCst, changed: true, changes: plan.changes, notes: plan.notes };
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
    if (!a || seen.has(a.path)) {
      changes.push(`artifacts: removed ${typeof path === 'string' ? path : 'an entry without a path'}`);
      continue;
    }
    seen.add(a.path);
    artifacts.push(a);
    for (const k of ['sha256', 'size'] as const) if (item[k] !== a[k]) changes.push(`artifacts[${a.path}].${k}`);
  }
  for (const a of facts.artifacts) {
    if (!seen.has(a.path)) {
      artifacts.push(a);
      changes.push(`artifacts: added ${a.path}`);
    }
  }
  if (!Array.isArray(current.artifacts)) changes.push('artifacts');
  const arch = new Map<string, string | number>();
  const curArch =
    current.architecture && typeof current.architecture === 'object'
      ? (current.architecture as Record<string, unknown>)
      : {};
  for (const [k, v] of [
    ['format', facts.format],
    ['parameters', facts.parameters],
    ['dtype', facts.dtype],
  ] as const) {
    if (v === undefined || curArch[k] === v) continue;
    arch.set(k, v);
    changes.push(`architecture.${k}`);
  }
  if (facts.family && typeof curArch.family === 'string' && curArch.family !== facts.family) {
    notes.push(
      `architecture.family is "${curArch.family}" but config.json says model_type "${facts.family}"; left as written`,
    );
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
  if (blockSeq && indent > 0 && c.start[0]?.type !== 'space')
    c.start.unshift({ type: 'space', offset: 0, indent: 0, source: ' '.repeat(indent) });
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
      const p =
        pathItem?.value && CST.isScalar(pathItem.value) ? CST.resolveAsScalar(pathItem.value)?.value : undefined;
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
    if (!archTok || !(archTok.type === 'flow-collection' || archTok.type === 'block-map') || archTok.items.length === 0)
      return undefined;
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
