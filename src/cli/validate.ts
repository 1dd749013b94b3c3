import { formatDiagnostic } from '../registry/diagnostics.ts';
import { WorkingTreeSource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, intOption, parseCommandArgs } from './command.ts';
import { bold, dim, green, printJson, red, yellow } from './output.ts';

const usage = 'model-gitops validate [--repo DIR] [--json] [--max-file-bytes N]';

export const validateCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        repo: { type: 'string', default: '.' },
        json: { type: 'boolean', default: false },
        'max-file-bytes': { type: 'string' },
      },
      usage,
    );
    if (values.help) {
      console.log(`usage: ${usage}`);
      return EXIT.ok;
    }
    const maxFileBytes = intOption('max-file-bytes', values['max-file-bytes'], { min: 1 }) ?? DEFAULT_MAX_FILE_BYTES;
    const started = performance.now();
    const result = validateRegistry(new WorkingTreeSource(values.repo, { maxFileBytes }), { maxFileBytes });
    const ms = performance.now() - started;
    if (values.json) {
      printJson({
        valid: result.errors === 0,
        errors: result.errors,
        warnings: result.warnings,
        counts: result.counts,
        diagnostics: result.diagnostics,
      });
    } else {
      for (const d of result.diagnostics)
        console.log(d.severity === 'error' ? formatDiagnostic(d) : yellow(formatDiagnostic(d)));
      const c = result.counts;
      const what = `${c.models} models, ${c.versions} versions, ${c.environments} environments (${c.files} files) in ${ms.toFixed(0)} ms`;
      if (result.errors === 0)
        console.log(`${green('valid')}  ${what}${result.warnings ? dim(`, ${result.warnings} warnings`) : ''}`);
      else
        console.log(
          `${red(bold(`${result.errors} error${result.errors === 1 ? '' : 's'}`))}${result.warnings ? `, ${result.warnings} warnings` : ''}  ${what}`,
        );
    }
    return result.errors === 0 ? EXIT.ok : EXIT.violations;
  },
};
