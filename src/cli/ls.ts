import { formatDiagnostic } from '../registry/diagnostics.ts';
import { placements } from '../registry/placements.ts';
import { WorkingTreeSource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';

const usage = 'model-gitops ls [--repo DIR] [--json]';

export const lsCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { repo: { type: 'string', default: '.' }, json: { type: 'boolean', default: false } },
      usage,
    );
    if (values.help) {
      console.log(`usage: ${usage}`);
      return EXIT.ok;
    }
    const result = validateRegistry(new WorkingTreeSource(values.repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }));
    const where = placements(result.registry);
    if (values.json) {
      printJson({
        valid: result.errors === 0,
        models: [...where].map(([name, versions]) => ({
          name,
          task: result.registry.models.get(name)?.card?.task ?? null,
          versions: [...versions].map(([version, runs]) => ({
            version,
            summary: result.registry.models.get(name)!.versions.get(version)!.card.summary,
            runs,
          })),
        })),
      });
    } else {
      const rows = [['MODEL', 'VERSION', 'RUNS IN', 'SUMMARY']];
      for (const [name, versions] of where) {
        let first = true;
        for (const [version, runs] of versions) {
          const runsIn = runs
            .map((p) =>
              p.role === 'champion'
                ? p.environment
                : p.role === 'canary'
                  ? `${p.environment} (canary ${p.weight})`
                  : `${p.environment} (rollback)`,
            )
            .join(', ');
          const summary = result.registry.models.get(name)!.versions.get(version)!.card.summary;
          rows.push([
            first ? name : '',
            version,
            runsIn || '-',
            summary.length > 60 ? `${summary.slice(0, 57)}...` : summary,
          ]);
          first = false;
        }
      }
      console.log(table(rows));
      if (result.errors > 0) {
        console.error(`\n${result.errors} problem(s) in the registry; files with errors are not listed:`);
        for (const d of result.diagnostics.filter((x) => x.severity === 'error')) console.error(formatDiagnostic(d));
      }
    }
    return result.errors === 0 ? EXIT.ok : EXIT.violations;
  },
};
