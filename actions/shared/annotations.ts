// Shared by the actions: diagnostics as GitHub annotations (::error file=,line=,col=::) and as a job
// summary table. Kept here, not in src/, because it is the only place that knows about GitHub.
import * as core from '@actions/core';
import { relative, resolve, sep } from 'node:path';
import { join } from 'node:path/posix';
import type { Diagnostic } from '../../src/registry/diagnostics.ts';

const MAX_ANNOTATIONS = 50; // GitHub shows at most 50 annotations per step; the log and the summary list the rest.

export interface AnnotateOptions {
  /** Folder of the registry relative to the workspace (see workspacePrefix), put before each file. */
  prefix?: string;
  /** The annotation's title; default `field (rule)`, or the rule for a whole file. */
  title?: (d: Diagnostic) => string;
  /** The annotation's text; default `field: message`. */
  message?: (d: Diagnostic) => string;
}

/**
 * The folder `repo` (relative to the step's working folder) as a path relative to the workspace root,
 * with '/': GitHub places an annotation only when its file is named from there.
 */
export function workspacePrefix(repo: string): string {
  return relative(process.env.GITHUB_WORKSPACE ?? process.cwd(), resolve(repo))
    .split(sep)
    .join('/');
}

/** One annotation per diagnostic, at most MAX_ANNOTATIONS; the rest go to the log after a line that counts them. */
export function annotate(diagnostics: Diagnostic[], options: AnnotateOptions = {}): void {
  const { prefix = '', title = defaultTitle, message = defaultMessage } = options;
  const file = (d: Diagnostic) => (prefix ? join(prefix, d.file) : d.file);
  for (const d of diagnostics.slice(0, MAX_ANNOTATIONS)) {
    const props = { file: file(d), startLine: d.line, startColumn: d.column, title: title(d) };
    if (d.severity === 'error') core.error(message(d), props);
    else core.warning(message(d), props);
  }
  const rest = diagnostics.slice(MAX_ANNOTATIONS);
  if (rest.length === 0) return;
  core.info(leftOut(rest));
  for (const d of rest) core.info(`${file(d)}:${d.line}:${d.column}  ${message(d)}`);
}

const defaultTitle = (d: Diagnostic) => (d.field ? `${d.field} (${d.rule})` : d.rule);
const defaultMessage = (d: Diagnostic) => (d.field ? `${d.field}: ${d.message}` : d.message);

function leftOut(rest: Diagnostic[]): string {
  const errors = rest.filter((d) => d.severity === 'error').length;
  const warnings = rest.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts = [errors ? plural(errors, 'error') : '', warnings ? plural(warnings, 'warning') : ''].filter(Boolean);
  return `${rest.length} more not annotated (${counts.join(', ')}; GitHub shows at most ${MAX_ANNOTATIONS} annotations per step):`;
}

export async function diagnosticsSummary(
  title: string,
  headline: string,
  diagnostics: Diagnostic[],
  prefix = '',
): Promise<void> {
  core.summary.addHeading(title, 2).addRaw(`<p>${escapeHtml(headline)}</p>`, true);
  if (diagnostics.length > 0) {
    core.summary.addTable([
      [
        { data: 'File', header: true },
        { data: 'Line', header: true },
        { data: 'Field', header: true },
        { data: 'Problem', header: true },
        { data: 'Rule', header: true },
      ],
      ...diagnostics
        .slice(0, 500)
        .map((d) => [
          escapeHtml(prefix ? join(prefix, d.file) : d.file),
          String(d.line),
          escapeHtml(d.field || '-'),
          `${d.severity === 'warning' ? '⚠️ ' : '❌ '}${escapeHtml(d.message)}`,
          escapeHtml(d.rule),
        ]),
    ]);
    if (diagnostics.length > 500) core.summary.addRaw(`<p>…and ${diagnostics.length - 500} more.</p>`, true);
  }
  await core.summary.write();
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
