// Parses one YAML file the strict way: YAML 1.2 core schema, one document, unique keys, no anchors or
// aliases (no alias bombs), no explicit tags, bounded size and depth, valid UTF-8. Keeps source
// positions so every later check can point at a line and column.
import { LineCounter, parseAllDocuments, isAlias, isCollection, isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { type Diagnostic, type PathSegment, fieldPath } from './diagnostics.ts';

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
export const MAX_DEPTH = 64;

export interface YamlFile {
  file: string;
  text: string;
  doc: Document.Parsed;
  data: unknown;
  lines: LineCounter;
}

export type ParseResult = { ok: true; value: YamlFile } | { ok: false; diagnostics: Diagnostic[] };

function fail(file: string, line: number, column: number, message: string, rule: string, field = ''): ParseResult {
  return { ok: false, diagnostics: [{ file, line, column, field, message, rule, severity: 'error' }] };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function parseYamlFile(file: string, bytes: Uint8Array, maxBytes = DEFAULT_MAX_FILE_BYTES): ParseResult {
  if (bytes.length > maxBytes) {
    return fail(file, 1, 1, `file is ${bytes.length} bytes; the limit is ${maxBytes} bytes`, 'file-size');
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const pos = positionOfByte(bytes, at);
    return fail(file, pos.line, pos.column, `file is not valid UTF-8 (bad byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at})`, 'encoding');
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const lc = lineCol(text, nul);
    return fail(file, lc.line, lc.column, 'file contains a NUL character; YAML files must be text', 'encoding');
  }
  if (text.trim() === '') return fail(file, 1, 1, 'file is empty', 'yaml-structure');

  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter: lines,
      version: '1.2',
      schema: 'core',
      uniqueKeys: true,
      strict: true,
      prettyErrors: false,
      merge: false,
    }) as Document.Parsed[];
  } catch (e) {
    // The parser recurses on nesting; a pathological file can exhaust the stack.
    return fail(file, 1, 1, `YAML could not be parsed: ${e instanceof RangeError ? 'nesting is too deep' : String(e)}`, 'yaml-syntax');
  }
  if (!Array.isArray(docs)) return fail(file, 1, 1, 'YAML could not be parsed', 'yaml-syntax');
  if (docs.length === 0) return fail(file, 1, 1, 'file holds no YAML document', 'yaml-structure');
  const doc = docs[0]!;
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    const p = problems[0]!;
    const at = lines.linePos(p.pos[0]);
    return fail(file, at.line, at.col, yamlMessage(p.code, p.message), 'yaml-syntax');
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    const at = lines.linePos(second.range[0]);
    return fail(file, at.line, at.col, 'file holds more than one YAML document (---); put one card in each file', 'yaml-structure');
  }
  if (!isMap(doc.contents)) {
    const at = doc.contents ? lines.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
    return fail(file, at.line, at.col, 'the top level must be a mapping of field: value', 'yaml-structure');
  }
  const bad = findForbiddenNode(doc.contents, 0, []);
  if (bad) {
    const at = lines.linePos(bad.offset);
    return fail(file, at.line, at.col, bad.message, bad.rule, fieldPath(bad.path));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    return fail(file, 1, 1, `YAML could not be converted: ${String(e)}`, 'yaml-syntax');
  }
  return { ok: true, value: { file, text, doc, data, lines } };
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0] ?? message;
  if (code === 'DUPLICATE_KEY') return `duplicate key: ${first.replace(/^Map keys must be unique.*$/, 'each key may appear once in a mapping')}`;
  if (code === 'TAG_RESOLVE_FAILED') return `custom YAML tags are not allowed (${first})`;
  return `YAML syntax error: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

interface Forbidden { offset: number; message: string; rule: string; path: PathSegment[] }

// Anchors/aliases: cards never need them, and refusing them outright removes alias bombs.
// Explicit tags: `!!python/object` and friends have no place in a model card.
function findForbiddenNode(node: unknown, depth: number, path: PathSegment[]): Forbidden | undefined {
  if (depth > MAX_DEPTH) {
    return { offset: (node as YamlNode).range?.[0] ?? 0, message: `nesting is deeper than ${MAX_DEPTH} levels`, rule: 'yaml-structure', path };
  }
  if (isAlias(node)) {
    return { offset: node.range?.[0] ?? 0, message: `YAML aliases (*${node.source}) are not allowed; write the value out`, rule: 'yaml-alias', path };
  }
  if (node === null || node === undefined) return undefined;
  const n = node as YamlNode;
  if (n.anchor) {
    return { offset: n.range?.[0] ?? 0, message: `YAML anchors (&${n.anchor}) are not allowed; write each value out`, rule: 'yaml-alias', path };
  }
  if (n.tag && (isScalar(n) || isCollection(n))) {
    return { offset: n.range?.[0] ?? 0, message: `explicit YAML tags (${n.tag}) are not allowed`, rule: 'yaml-tag', path };
  }
  if (isMap(n)) {
    for (const item of n.items as Pair[]) {
      const key = item.key;
      if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
        const off = (key as YamlNode | null)?.range?.[0] ?? n.range?.[0] ?? 0;
        return { offset: off, message: 'mapping keys must be plain strings', rule: 'yaml-structure', path };
      }
      if (key.anchor || key.tag) {
        return findForbiddenNode(key, depth + 1, path);
      }
      const name = String(key.value);
      if (name === '__proto__') {
        return { offset: key.range?.[0] ?? 0, message: 'the key "__proto__" is not allowed', rule: 'yaml-structure', path };
      }
      const inner = findForbiddenNode(item.value, depth + 1, [...path, name]);
      if (inner) return inner;
    }
  } else if (isSeq(n)) {
    for (let i = 0; i < n.items.length; i++) {
      const inner = findForbiddenNode(n.items[i], depth + 1, [...path, i]);
      if (inner) return inner;
    }
  }
  return undefined;
}

export interface Position { line: number; column: number }

/**
 * Where a field lives in the source. `key` points at the key of a mapping entry (for unknown fields),
 * otherwise at its value. Missing segments fall back to the deepest node that exists.
 */
export function locate(y: YamlFile, path: readonly PathSegment[], target: 'key' | 'value' = 'value'): Position {
  let node: unknown = y.doc.contents;
  let pair: Pair | undefined;
  for (const seg of path) {
    pair = undefined;
    if (isMap(node)) {
      const found = (node.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!found) break;
      pair = found;
      node = found.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
    } else break;
  }
  const chosen = target === 'key' && pair && isScalar(pair.key) ? pair.key : node;
  const offset = (chosen as YamlNode | null)?.range?.[0] ?? (isPair(pair) ? (pair.key as YamlNode).range?.[0] : undefined) ?? 0;
  const lc = y.lines.linePos(offset);
  return { line: lc.line, column: lc.col };
}

/** The source text of a scalar at `path`, e.g. to tell `1.10` (a float) from "1.10". */
export function sourceText(y: YamlFile, path: readonly PathSegment[]): string | undefined {
  let node: unknown = y.doc.contents;
  for (const seg of path) {
    if (isMap(node)) node = node.get(seg, true);
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
    else return undefined;
  }
  return isScalar(node) ? (node.source ?? (node.range ? y.text.slice(node.range[0], node.range[1]) : undefined)) : undefined;
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  // Decode growing prefixes by code point boundaries: find the first offset where strict decoding fails.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    try {
      utf8.decode(bytes.subarray(i, i + len));
    } catch {
      return i;
    }
    i += len;
  }
  return 0;
}

function positionOfByte(bytes: Uint8Array, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) { line++; lineStart = i + 1; }
  return { line, column: offset - lineStart + 1 };
}

function lineCol(text: string, index: number): Position {
  let line = 1;
  let start = 0;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) { line++; start = i + 1; }
  return { line, column: index - start + 1 };
}
