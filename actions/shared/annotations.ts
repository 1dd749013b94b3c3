// Shared by the actions: diagnostics as GitHub annotations (::error file=,line=,col=::) and as a job
// summary table. Kept here, not in src/, because it is the only place that knows about GitHub.
import * as core from '@actions/core';
import { join } from 'node:path/posix';
import type { Diagnostic } from '../../src/registry/diagnostics.ts';

const MAX_ANNOTATIONS = 50; // GitHub shows at most 50 annotations per step; the summary lists the rest.

export function annotate(diagnostics: Diagnostic[], prefix = ''): void {
  diagnostics.forEach((d, i) => {
    const props = { file: prefix ? join(prefix, d.file) : d.file, startLine: d.line, startColumn: d.column, title: d.field ? `${d.field} (${d.rule})` : d.rule };
    const message = d.field ? `${d.field}: ${d.message}` : d.message;
    if (i >= MAX_ANNOTATIONS) core.info(`${props.file}:${d.line}:${d.column}  ${message}`);
    else if (d.severity === 'error') core.error(message, props);
    else core.warning(message, props);
  });
}

export async function diagnosticsSummary(title: string, headline: string, diagnostics: Diagnostic[], prefix = ''): Promise<void> {
  core.summary.addHeading(title, 2).addRaw(`<p>${escapeHtml(headline)}</p>`, true);
  if (diagnostics.length > 0) {
    core.summary.addTable([
      [{ data: 'File', header: true }, { data: 'Line', header: true }, { data: 'Field', header: true }, { data: 'Problem', header: true }, { data: 'Rule', header: true }],
      ...diagnostics.slice(0, 500).map((d) => [
        escapeHtml(prefix ? join(prefix, d.file) : d.file), String(d.line), escapeHtml(d.field || '-'),
        `${d.severity === 'warning' ? '⚠️ ' : '❌ '}${escapeHtml(d.message)}`, escapeHtml(d.rule),
      ]),
    ]);
    if (diagnostics.length > 500) core.summary.addRaw(`<p>…and ${diagnostics.length - 500} more.</p>`, true);
  }
  await core.summary.write();
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
