import { type CheckResult, addProductionEvidence, bumpSummary, compareWithBase } from '../review/check.ts';
import { storeReportSource } from '../benchmark/store-evidence.ts';
import { openStore } from '../store/open.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, intOption, parseCommandArgs } from './command.ts';
import { bold, dim, green, printJson, red, yellow } from './output.ts';

const usage = 'model-gitops check --base <git ref> [--repo DIR] [--evidence STORE_URL] [--json] [--max-file-bytes N]';

const MARK: Record<string, string> = {
  'version-added': '+',
  'version-deleted': '-',
  'model-added': '+',
  'model-deleted': '-',
  'environment-added': '+',
  'environment-deleted': '-',
  'version-edited': '~',
  'model-card-edited': '~',
};

/** The human report: changes, then the verdict on each new version, then the diagnostics. */
export function formatCheck(r: CheckResult): string {
  const out: string[] = [];
  out.push(bold(`changes against ${r.base.ref} (${r.base.commit.slice(0, 12)}):`));
  if (r.changes.length === 0) out.push(dim('  none'));
  for (const c of r.changes) out.push(`  ${MARK[c.kind] ?? '>'} ${c.description}`);
  if (r.semver.length > 0) {
    out.push('', bold('new versions:'));
    for (const v of r.semver) out.push(`  ${v.model} ${v.version}: ${v.ok ? bumpSummary(v) : red(bumpSummary(v))}`);
  }
  if (r.diagnostics.length > 0) out.push('');
  for (const d of r.diagnostics) out.push(d.severity === 'error' ? formatDiagnostic(d) : yellow(formatDiagnostic(d)));
  out.push('');
  if (r.errors === 0)
    out.push(
      `${green('ok')}  ${r.changes.length} change${r.changes.length === 1 ? '' : 's'}${r.warnings ? dim(`, ${r.warnings} warnings`) : ''}`,
    );
  else
    out.push(
      `${red(bold(`${r.errors} error${r.errors === 1 ? '' : 's'}`))}${r.warnings ? `, ${r.warnings} warnings` : ''}  ${r.changes.length} change${r.changes.length === 1 ? '' : 's'}`,
    );
  if (r.baseProblems > 0)
    out.push(
      dim(`note: ${r.baseProblems} problem(s) on the base itself; files that did not load there are treated as new`),
    );
  return out.join('\n');
}

export const checkCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        base: { type: 'string' },
        repo: { type: 'string', default: '.' },
        json: { type: 'boolean', default: false },
        'max-file-bytes': { type: 'string' },
        evidence: { type: 'string' },
      },
      usage,
    );
    if (values.help) {
      console.log(`usage: ${usage}`);
      return EXIT.ok;
    }
    if (values.base === undefined) throw new UserError(`--base is required\nusage: ${usage}`);
    const maxFileBytes = intOption('max-file-bytes', values['max-file-bytes'], { min: 1 }) ?? DEFAULT_MAX_FILE_BYTES;
    const run = compareWithBase(values.repo, values.base, { maxFileBytes });
    // With an evidence store, versions entering production also need a passing benchmark report there.
    const result =
      values.evidence === undefined
        ? run.result
        : await addProductionEvidence(run, storeReportSource(openStore(values.evidence)));
    if (values.json) printJson({ ok: result.errors === 0, ...result });
    else console.log(formatCheck(result));
    return result.errors === 0 ? EXIT.ok : EXIT.violations;
  },
};
