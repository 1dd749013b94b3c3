// Parses one YAML file the strict way: YAML 1.2 core schema, one document, unique keys, no anchors or
// aliases (no alias bombs), no explicit tags, bounded size and depth, valid UTF-8. Keeps source
// positions so every later check can point at a line and column.
import { LineCounter, parseAllDocuments, isAlias, isCollection, isMap, isPair, isScalar, isSeq, visit } from 'yaml';
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
    return fail(
      file,
      pos.line,
      pos.column,
      `file is not valid UTF-8 (bad byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at})`,
      'encoding',
    );
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const lc = lineCol(text, nul);
    return fail(file, lc.line, lc.column, 'file contains a NUL character; YAML files must be text', 'encoding');
  }
  // YAML allows only printable characters (YAML 1.2 §5.1). The parser does not enforce it, and a
  // control character such as ESC in a key would end up, unescaped, in the messages printed to a terminal.
  const ctrl = NON_PRINTABLE.exec(text);
  if (ctrl) {
    const lc = lineCol(text, ctrl.index);
    const ch = ctrl[0];
    if (ch === '\r') {
      return fail(
        file,
        lc.line,
        lc.column,
        'file has a carriage return (CR) not followed by a line feed; end lines with LF or CRLF',
        'encoding',
      );
    }
    const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return fail(
      file,
      lc.line,
      lc.column,
      `file contains the control character ${code}; YAML files must be printable text`,
      'encoding',
    );
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
    if (e instanceof RangeError)
      return fail(file, 1, 1, `nesting is deeper than ${MAX_DEPTH} levels`, 'yaml-structure');
    return fail(file, 1, 1, `YAML could not be parsed: ${String(e)}`, 'yaml-syntax');
  }
  if (!Array.isArray(docs)) return fail(file, 1, 1, 'YAML could not be parsed', 'yaml-syntax');
  if (docs.length === 0) return fail(file, 1, 1, 'file holds no YAML document', 'yaml-structure');
  const doc = docs[0]!;
  // Unresolved tags (`!foo`, `!!python/object`) are reported by the walk below, with their field.
  const tagWarnings = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')];
  if (problems.length > 0) {
    const p = problems[0]!;
    if (p.code === 'RESOURCE_EXHAUSTION') {
      // The parser ran out of stack: nesting far beyond MAX_DEPTH. Its own message names JavaScript internals.
      const at = lines.linePos(p.pos[0]);
      return fail(file, at.line, at.col, `nesting is deeper than ${MAX_DEPTH} levels`, 'yaml-structure');
    }
    // An unclosed flow collection is detected where the parser gives up, often lines later; point at
    // the bracket that was never closed instead.
    const opened =
      (p.code === 'BAD_INDENT' || p.code === 'MISSING_CHAR') && /^Flow (map|sequence)/.test(p.message)
        ? unclosedFlowStart(doc, p.pos[0])
        : undefined;
    const at = lines.linePos(opened ?? p.pos[0]);
    const message =
      yamlMessage(p.code, p.message) +
      (opened !== undefined ? ` (the ${p.message.startsWith('Flow map') ? '{' : '['} here is never closed)` : '');
    return fail(file, at.line, at.col, message, 'yaml-syntax');
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    const at = lines.linePos(second.range[0]);
    return fail(
      file,
      at.line,
      at.col,
      'file holds more than one YAML document (---); put one card in each file',
      'yaml-structure',
    );
  }
  if (!isMap(doc.contents)) {
    const at = doc.contents ? lines.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
    return fail(file, at.line, at.col, 'the top level must be a mapping of field: value', 'yaml-structure');
  }
  const bad = findForbiddenNode(doc.contents, 0, []);
  if (bad) {
    // A node's range starts at its value; point at the anchor or tag written before it.
    let offset = bad.offset;
    let message = bad.message;
    if (bad.prop !== undefined) {
      let i = text.lastIndexOf(bad.prop, offset);
      while (bad.rule === 'yaml-tag' && i > 0 && !/[\s[\]{},]/.test(text[i - 1]!)) i--; // `!!tag`, `!e!tag`
      if (i >= 0) {
        offset = i;
        if (bad.rule === 'yaml-tag')
          message = `explicit YAML tags (${/^\S+/.exec(text.slice(i, i + 200))![0]}) are not allowed`;
      }
    }
    const at = lines.linePos(offset);
    return fail(file, at.line, at.col, message, bad.rule, fieldPath(bad.path));
  }
  if (tagWarnings.length > 0) {
    const w = tagWarnings[0]!;
    const at = lines.linePos(w.pos[0]);
    return fail(file, at.line, at.col, yamlMessage(w.code, w.message), 'yaml-tag');
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    return fail(file, 1, 1, `YAML could not be converted: ${String(e)}`, 'yaml-syntax');
  }
  return { ok: true, value: { file, text, doc, data, lines } };
}

/** Offset of the flow collection (`{` or `[`) that the parser found unclosed at `errorOffset`. */
function unclosedFlowStart(doc: Document.Parsed, errorOffset: number): number | undefined {
  let found: number | undefined;
  visit(doc, (_key, node) => {
    if (isCollection(node) && node.flow && node.range && node.range[1] === errorOffset) {
      found = node.range[0];
      return visit.BREAK;
    }
    return undefined;
  });
  return found;
}

// Everything YAML 1.2 does not count as printable, except NUL (reported on its own) and CR, which is
// allowed only as part of CRLF.
const NON_PRINTABLE = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]|\r(?!\n)/u;

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0] ?? message;
  if (code === 'DUPLICATE_KEY')
    return `duplicate key: ${first.replace(/^Map keys must be unique.*$/, 'each key may appear once in a mapping')}`;
  if (code === 'TAG_RESOLVE_FAILED') return `custom YAML tags are not allowed (${first})`;
  return `YAML syntax error: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

interface Forbidden {
  offset: number;
  message: string;
  rule: string;
  path: PathSegment[];
  prop?: string;
}

// Anchors/aliases: cards never need them, and refusing them outright removes alias bombs.
// Explicit tags: `!!python/object` and friends have no place in a model card.
function findForbiddenNode(node: unknown, depth: number, path: PathSegment[]): Forbidden | undefined {
  if (depth > MAX_DEPTH) {
    return {
      offset: (node as YamlNode).range?.[0] ?? 0,
      message: `nesting is deeper than ${MAX_DEPTH} levels`,
      rule: 'yaml-structure',
      path,
    };
  }
  if (isAlias(node)) {
    return {
      offset: node.range?.[0] ?? 0,
      message: `YAML aliases (*${node.source}) are not allowed; write the value out`,
      rule: 'yaml-alias',
      path,
    };
  }
  if (node === null || node === undefined) return undefined;
  const n = node as YamlNode;
  if (n.anchor) {
    return {
      offset: n.range?.[0] ?? 0,
      message: `YAML anchors (&${n.anchor}) are not allowed; write each value out`,
      rule: 'yaml-alias',
      path,
      prop: `&${n.anchor}`,
    };
  }
  if (n.tag && (isScalar(n) || isCollection(n))) {
    return {
      offset: n.range?.[0] ?? 0,
      message: `explicit YAML tags (${n.tag}) are not allowed`,
      rule: 'yaml-tag',
      path,
      prop: '!',
    };
  }
  if (isMap(n)) {
    const names = new Set<string>();
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
        return {
          offset: key.range?.[0] ?? 0,
          message: 'the key "__proto__" is not allowed',
          rule: 'yaml-structure',
          path,
        };
      }
      // The parser compares keys as YAML values, so `1` and "1" (or `true` and "true") pass as
      // different keys; once loaded they are the same one and the last silently wins.
      if (names.has(name)) {
        return {
          offset: key.range?.[0] ?? 0,
          message: `duplicate key: "${name}" is given twice in this mapping (written differently, such as 1 and "1", but the same field once loaded)`,
          rule: 'yaml-syntax',
          path,
        };
      }
      names.add(name);
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

export interface Position {
  line: number;
  column: number;
}

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
  const offset =
    (chosen as YamlNode | null)?.range?.[0] ?? (isPair(pair) ? (pair.key as YamlNode).range?.[0] : undefined) ?? 0;
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
  return isScalar(node)
    ? (node.source ?? (node.range ? y.text.slice(node.range[0], node.range[1]) : undefined))
    : undefined;
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
  for (let i = 0; i < offset; i++)
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  // Columns count characters (UTF-16 code units, like every other diagnostic), not bytes; the bytes
  // before `offset` are valid UTF-8.
  return { line, column: utf8.decode(bytes.subarray(lineStart, offset)).length + 1 };
}

function lineCol(text: string, index: number): Position {
  let line = 1;
  let start = 0;
  for (let i = 0; i < index; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  return { line, column: index - start + 1 };
}
