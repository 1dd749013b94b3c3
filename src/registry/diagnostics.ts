// A diagnostic is one thing wrong with one place in the registry, said so that a person can fix it:
// `file:line:column  field  message`. Every check in model-gitops reports through this shape, so the
// CLI, the JSON output and the GitHub annotations all show the same thing.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  /** Repository-relative POSIX path of the file. */
  file: string;
  /** 1-based line; 1 when the problem is the whole file. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Dotted field path such as `artifacts[1].sha256`; empty for the file as a whole. */
  field: string;
  message: string;
  /** Stable rule identifier, e.g. `schema`, `yaml-syntax`, `identity-folder`. */
  rule: string;
  severity: Severity;
}

export type PathSegment = string | number;

/** `['artifacts', 1, 'sha256']` -> `artifacts[1].sha256`; keys that are not identifiers are quoted. */
export function fieldPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s) && !/^\d/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return a.file < b.file
    ? -1
    : a.file > b.file
      ? 1
      : a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule) || a.field.localeCompare(b.field);
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${printable(d.file)}:${d.line}:${d.column}`;
  const tag = d.severity === 'warning' ? 'warning  ' : '';
  // Messages may span lines (the semver table); continuation lines are indented so none of them can
  // pass for a diagnostic of its own. Every other control character is escaped.
  const message = d.message.split('\n').map(printable).join('\n    ');
  return d.field === '' ? `${where}  ${tag}${message}` : `${where}  ${printable(d.field)}  ${tag}${message}`;
}

/**
 * Control characters (a newline, an ANSI escape) as `\uXXXX`: file names come from the repository
 * being checked and must not be able to forge lines or rewrite the terminal of whoever reads them.
 */
export function printable(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Collects diagnostics; a check pushes, the caller sorts and reports. */
export class DiagnosticSink {
  readonly items: Diagnostic[] = [];
  add(d: Omit<Diagnostic, 'severity'> & { severity?: Severity }): void {
    this.items.push({ severity: 'error', ...d });
  }
  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }
  sorted(): Diagnostic[] {
    return [...this.items].sort(compareDiagnostics);
  }
}

/** Short quoted rendering of a value for messages; long values are cut. */
export function show(value: unknown): string {
  let s: string;
  if (typeof value === 'string') s = JSON.stringify(value);
  else if (value === null) s = 'null';
  else if (Array.isArray(value)) s = 'a list';
  else if (typeof value === 'object') s = 'a mapping';
  else s = String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
