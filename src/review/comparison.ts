// What the two halves of the base comparison share (src/review/compare-models.ts and
// src/review/compare-environments.ts): both registries, the renames found between them, and the
// collected changes, semver verdicts and diagnostics, with the helpers that locate and report them.
import { DiagnosticSink, type PathSegment, fieldPath } from '../registry/diagnostics.ts';
import type { Registry } from '../registry/load.ts';
import type { Deployment, VersionCard } from '../registry/types.ts';
import { locate } from '../registry/yaml-file.ts';
import type { Change, SemverVerdict } from './check.ts';

export type Role = 'version' | 'canary' | 'rollbackWindow';

/** Path of a version reference inside an environment file, for both the short and the long form. */
export function deploymentField(model: string, d: Deployment, role: Role, index = 0): PathSegment[] {
  if (role === 'canary') return ['models', model, 'canary', 'version'];
  if (role === 'rollbackWindow') return ['models', model, 'rollbackWindow', index];
  return d.canary || d.rollbackWindow.length > 0 ? ['models', model, 'version'] : ['models', model];
}

export class ComparisonContext {
  readonly sink = new DiagnosticSink();
  readonly changes: Change[] = [];
  readonly verdicts: SemverVerdict[] = [];
  readonly supersedes = new Set<string>();
  /** old name -> new name, and back. */
  readonly renamedTo = new Map<string, string>();
  readonly renamedFrom = new Map<string, string>();
  readonly base: Registry;
  readonly head: Registry;
  readonly headPaths: Set<string>;

  constructor(base: Registry, head: Registry, headPaths: Set<string>) {
    this.base = base;
    this.head = head;
    this.headPaths = headPaths;
  }

  private pos(reg: Registry, file: string, path: PathSegment[], target: 'key' | 'value' = 'value') {
    const y = reg.files.get(file);
    return y ? locate(y, path, target) : { line: 1, column: 1 };
  }

  report(
    file: string,
    path: PathSegment[],
    message: string,
    rule: string,
    opts: { target?: 'key' | 'value'; supersede?: string[]; reg?: Registry } = {},
  ): void {
    const p = this.pos(opts.reg ?? this.head, file, path, opts.target);
    const field = fieldPath(path);
    this.sink.add({ file, line: p.line, column: p.column, field, message, rule });
    for (const r of opts.supersede ?? []) this.supersedes.add(`${file}|${field}|${r}`);
  }

  change(c: Omit<Change, 'line'>, reg: Registry = this.head, path: PathSegment[] = []): void {
    this.changes.push({ ...c, line: this.pos(reg, c.file, path).line });
  }

  /** The base model a head model continues: the same name, or the one it was renamed from. */
  baseName(headModel: string): string {
    return this.renamedFrom.get(headModel) ?? headModel;
  }

  baseCard(headModel: string, version: string): { file: string; card: VersionCard } | undefined {
    return this.base.models.get(this.baseName(headModel))?.versions.get(version);
  }
}
