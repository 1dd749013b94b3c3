// Parses one YAML file the strict way: YAML 1.2 core schema, one document, unique keys, no anchors or
// aliases (no alias bombs), no explicit tags, bounded size and depth, valid UTF-8. Keeps source
// positions so every later check can point at a line and column.
//
// Every check here is linear in the size of the file: a pull request can put up to the size limit of
// hostile text in front of CI. Limits come before work: size, encoding and a scan for nesting run on the
// raw text before the parser sees it, and the parser's own unique-keys rule (quadratic: each key is
// compared with every key before it) is off; duplicates are found with hash sets instead.
import { LineCounter, parseAllDocuments, isAlias, isCollection, isMap, isPair, isScalar, isSeq, visit } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { type Diagnostic, type PathSegment, fieldPath } from './diagnostics.ts';

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
export const MAX_DEPTH = 64;
/**
 * Nesting the scan of the raw text refuses on its own, before parsing. Anything deeper than MAX_DEPTH is
 * refused either way; up to this the parser runs, so that the diagnostic can name the field, and beyond
 * it (a pathological file: 400,000 `[` cost the parser seconds) the file is refused in one linear pass.
 */
export const SCAN_MAX_DEPTH = 2 * MAX_DEPTH;

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
  const deep = provenNesting(text, SCAN_MAX_DEPTH);
  if (deep) {
    // Point at the opener where the chain passes MAX_DEPTH. The field is not known without parsing.
    const lc = lineCol(text, deep[MAX_DEPTH]!);
    return fail(file, lc.line, lc.column, `nesting is deeper than ${MAX_DEPTH} levels`, 'yaml-structure');
  }

  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter: lines,
      version: '1.2',
      schema: 'core',
      // The parser's check compares each key with every key before it in its mapping: 64,000 keys (well
      // under the size limit) took 40 s. firstParserDuplicate and findForbiddenNode find duplicates in
      // linear time instead.
      uniqueKeys: false,
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
  // What the parser reported as DUPLICATE_KEY when its own check was on: an error, so ahead of every
  // warning, and of any error later in the text (the parser reported in its own order, nearly the text's).
  const duplicate = firstParserDuplicate(doc);
  if (duplicate !== undefined && (doc.errors.length === 0 || duplicate < doc.errors[0]!.pos[0])) {
    const at = lines.linePos(duplicate);
    return fail(file, at.line, at.col, yamlMessage('DUPLICATE_KEY', 'Map keys must be unique'), 'yaml-syntax');
  }
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

/**
 * Offset of the first key that repeats an earlier key of its mapping as a YAML value (`a` and "a", `1`
 * and `0x1`): what the parser's `uniqueKeys` reported, found with one hash set per mapping instead of
 * comparing every pair. Looks at every mapping in the document, keys that are collections included.
 * Keys equal only once loaded (`1` and "1") are left to findForbiddenNode, which names the field. Points
 * at the repeated key itself (the parser pointed at the end of the entry before it when that entry had
 * no value, as in `interface:` on the line above).
 */
function firstParserDuplicate(doc: Document.Parsed): number | undefined {
  let first: number | undefined;
  const pending: unknown[] = [doc.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items as Pair[]) {
        const key = pair.key;
        // The parser compared values with ===, so NaN never equalled NaN; a Set would say it does.
        if (isScalar(key) && !Number.isNaN(key.value)) {
          if (!seen.has(key.value)) seen.add(key.value);
          else {
            const at = key.range?.[0] ?? node.range?.[0] ?? 0;
            if (first === undefined || at < first) first = at;
          }
        }
        pending.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) pending.push(item);
    }
  }
  return first;
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
      const found = keyIndex(node).get(String(seg));
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

// A mapping's pairs by key as loaded (the first of equal keys), built once per mapping: a card with
// thousands of unknown fields gets a diagnostic for each, and searching the mapping for every one of
// them made locating them quadratic. Rebuilt if the mapping has since gained or lost pairs.
const keyIndexes = new WeakMap<object, { size: number; pairs: Map<string, Pair> }>();
function keyIndex(map: { items: unknown[] }): Map<string, Pair> {
  const cached = keyIndexes.get(map);
  if (cached && cached.size === map.items.length) return cached.pairs;
  const pairs = new Map<string, Pair>();
  for (const p of map.items as Pair[]) {
    if (!isScalar(p.key)) continue;
    const name = String(p.key.value);
    if (!pairs.has(name)) pairs.set(name, p);
  }
  keyIndexes.set(map, { size: map.items.length, pairs });
  return pairs;
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

const SP = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const isSpace = (c: number) => c === SP || c === TAB || c === CR;
const isFlowIndicator = (c: number) => c === 0x2c || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d; // , [ ] { }

/**
 * A chain of collections nested more than `limit` levels deep that the raw text proves, as the offsets
 * of its openers (outermost first), or undefined. One linear pass, no parsing: it counts flow brackets
 * (`[`, `{`) and the block indicators `- ` and `? ` that open a collection inside another on the same
 * line (`- - - x`), the two ways nesting costs one or two bytes a level. (Nesting by indentation costs a
 * line per level and more indentation each time, so the size limit keeps it within what the parser
 * handles in milliseconds.) The scan under-counts whatever it cannot read for certain: it skips quoted
 * scalars, comments, plain scalars and their continuation lines, block scalars (`|`, `>`), tags and
 * anchors, and takes the widest reading of where a multi-line scalar ends. So for text the parser
 * accepts, a chain of k openers is nesting of at least k - 1 levels (k when the root is not one of them),
 * and the scan never refuses what the parser would read as shallower.
 */
export function provenNesting(text: string, limit: number): number[] | undefined {
  const n = text.length;
  const chain: number[] = [];
  let flow = 0; // open brackets at the end of `chain`
  let quote = 0; // the quote character while inside a quoted scalar
  let i = 0;
  let lineStart = 0;
  let lineEnd = -1; // end of the current line (its LF, or n); recomputed when i passes it
  let indent = 0; // leading spaces of the current line
  let lineHead = true;
  // Block context.
  let skipAbove = -2; // when >= -1, lines indented more than this (and blank ones) are scalar content
  let afterNode = false; // a quoted scalar, flow collection or alias just ended: only `:` or a comment may follow
  let parentCol = -1; // column of the innermost key or `-`/`?` on this line: where a scalar's continuation must go beyond
  let tokenCol = 0; // column where the last node began (a key, if `:` follows)
  let rootSeen = false; // the document's root node has begun
  let contentIndent = -1; // indentation of the last line with content in this document
  let prevIndent = -1; // ... as it was before the current line
  // Flow context.
  let inPlain = false; // inside a plain scalar (where quotes are ordinary characters)
  let afterJson = false; // right after a quoted scalar or a collection: a `:` here is a value indicator

  const eol = (from: number) => {
    const k = text.indexOf('\n', from);
    return k < 0 ? n : k;
  };
  const spaceAt = (k: number) => k >= n || isSpace(text.charCodeAt(k)) || text.charCodeAt(k) === LF;
  const isMarker = (k: number) => (text.startsWith('---', k) || text.startsWith('...', k)) && spaceAt(k + 3);
  const push = (at: number) => {
    chain.push(at);
    return chain.length - 1 > limit;
  };
  const skipProperty = (k: number, inFlow: boolean) => {
    // `&anchor`, `*alias`, `!tag`, `!<verbatim tag>`: up to white space (or a flow indicator in flow).
    if (text.charCodeAt(k) === 0x21 && text.charCodeAt(k + 1) === 0x3c) {
      // Only to the end of the line: searching the rest of the text from every `!<` would be quadratic.
      let close = k + 2;
      while (close < lineEnd && text.charCodeAt(close) !== 0x3e) close++;
      return close < lineEnd ? close + 1 : lineEnd;
    }
    let j = k + 1;
    while (j < n && !spaceAt(j) && !(inFlow && isFlowIndicator(text.charCodeAt(j)))) j++;
    return j;
  };

  while (i < n) {
    if (lineHead) {
      lineHead = false;
      lineStart = i;
      lineEnd = eol(i);
      let j = i;
      while (j < n && text.charCodeAt(j) === SP) j++;
      indent = j - i;
      if (quote !== 0 || flow > 0) {
        i = j;
        continue;
      }
      let k = j;
      while (k < lineEnd && isSpace(text.charCodeAt(k))) k++;
      const blank = k >= lineEnd;
      const marker = indent === 0 && isMarker(i);
      if (skipAbove >= -1 && !marker && (blank || indent > skipAbove)) {
        i = lineEnd + 1;
        lineHead = true;
        continue;
      }
      skipAbove = -2;
      const c = text.charCodeAt(k);
      if (blank || c === 0x23 || (indent === 0 && c === 0x25)) {
        // Blank, a comment, or a directive (%YAML, %TAG): nothing nests here.
        i = lineEnd + 1;
        lineHead = true;
        continue;
      }
      chain.length = 0;
      afterNode = false;
      parentCol = -1;
      if (marker) {
        rootSeen = false;
        contentIndent = -1;
        prevIndent = -1;
        if (c === 0x2e) {
          i = lineEnd + 1;
          lineHead = true;
        } else i += 3; // `--- [` or `--- |`: the root may start on the marker's line
        continue;
      }
      prevIndent = contentIndent;
      i = k;
      continue;
    }
    if (i > lineEnd) lineEnd = eol(i);
    const c = text.charCodeAt(i);

    if (quote !== 0) {
      // Inside a quoted scalar, which may span lines: find its end.
      let j = i;
      if (quote === 0x22) {
        while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      } else {
        while (j < n && !(text.charCodeAt(j) === 0x27 && text.charCodeAt(j + 1) !== 0x27))
          j += text.charCodeAt(j) === 0x27 ? 2 : 1;
      }
      if (j >= n) return undefined; // never closed: the parser says so
      if (j > lineEnd) {
        lineStart = text.lastIndexOf('\n', j) + 1;
        lineEnd = eol(j);
      }
      quote = 0;
      i = j + 1;
      if (flow > 0) {
        inPlain = false;
        afterJson = true;
      } else afterNode = true;
      continue;
    }

    if (flow > 0) {
      if (isSpace(c)) i++;
      else if (c === LF) {
        i++;
        lineHead = true;
      } else if (c === 0x23 && (i === 0 || isSpace(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === LF)) {
        i = lineEnd; // a comment ends a plain scalar
        inPlain = false;
      } else if (c === 0x5b || c === 0x7b) {
        flow++;
        inPlain = false;
        afterJson = false;
        if (push(i)) return chain;
        i++;
      } else if (c === 0x5d || c === 0x7d) {
        flow--;
        chain.pop();
        inPlain = false;
        afterJson = true;
        if (flow === 0) afterNode = true;
        i++;
      } else if (c === 0x2c) {
        inPlain = false;
        afterJson = false;
        i++;
      } else if ((c === 0x22 || c === 0x27) && !inPlain) {
        quote = c;
        i++;
      } else if (c === 0x3a && (afterJson || spaceAt(i + 1) || isFlowIndicator(text.charCodeAt(i + 1)))) {
        inPlain = false; // a value indicator
        afterJson = false;
        i++;
      } else if ((c === 0x3f || c === 0x2d) && !inPlain && spaceAt(i + 1)) {
        i++; // `? ` explicit key (`- ` is not allowed in flow; the parser says so)
      } else if ((c === 0x26 || c === 0x21 || c === 0x2a) && !inPlain) {
        i = skipProperty(i, true);
        afterJson = false;
      } else {
        inPlain = true;
        afterJson = false;
        i++;
      }
      continue;
    }

    // Block context.
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === LF) {
      i++;
      lineHead = true;
      continue;
    }
    if (c === 0x23 && (i === lineStart || isSpace(text.charCodeAt(i - 1)))) {
      i = lineEnd;
      continue;
    }
    if (afterNode) {
      if (c === 0x3a && spaceAt(i + 1)) {
        afterNode = false;
        parentCol = tokenCol;
        i++;
      } else i = lineEnd; // not YAML; the parser says so
      continue;
    }
    const col = i - lineStart;
    if ((c === 0x2d || c === 0x3f || c === 0x3a) && spaceAt(i + 1)) {
      // `- ` and `? ` open a collection here; `: ` starts the value of an explicit or empty key.
      rootSeen = true;
      contentIndent = indent;
      parentCol = col;
      if (c !== 0x3a && push(i)) return chain;
      i++;
      continue;
    }
    if (c === 0x26 || c === 0x21) {
      i = skipProperty(i, false); // the node follows
      continue;
    }
    // Where a scalar starting here may continue or hold content: lines indented beyond its parent. With
    // no parent on this line, that is the line before (`key:` then the value); at the root, anywhere.
    const threshold = !rootSeen ? -1 : parentCol >= 0 ? parentCol : Math.min(indent, prevIndent);
    rootSeen = true;
    contentIndent = indent;
    tokenCol = col;
    if (c === 0x5b || c === 0x7b) {
      flow = 1;
      inPlain = false;
      afterJson = false;
      if (push(i)) return chain;
      i++;
    } else if (c === 0x22 || c === 0x27) {
      quote = c;
      i++;
    } else if (c === 0x2a) {
      i = skipProperty(i, false);
      afterNode = true;
    } else if (c === 0x7c || c === 0x3e) {
      // A block scalar: the rest of the line is its header, the lines below it its content.
      skipAbove = threshold;
      i = lineEnd;
    } else {
      // A plain scalar: a key if `: ` follows on this line, else a value that may go on over the lines below.
      let j = i + 1;
      while (j < lineEnd) {
        const d = text.charCodeAt(j);
        if (d === 0x3a && spaceAt(j + 1)) break;
        if (d === 0x23 && isSpace(text.charCodeAt(j - 1))) break;
        j++;
      }
      if (j < lineEnd && text.charCodeAt(j) === 0x3a) {
        parentCol = col;
        i = j + 1;
      } else {
        // Ends at a comment (past which the scalar cannot go on) or at the end of the line.
        if (j >= lineEnd) skipAbove = threshold;
        i = lineEnd;
      }
    }
  }
  return undefined;
}
