// `model-gitops init`: start a registry (environments with a promotion chain, models/, the .gitignore
// entry of the local workspace). `printScaffold` is shared with `model-gitops new`.
import { relative, resolve } from 'node:path';
import {
  DEFAULT_ENVIRONMENTS,
  parseEnvironmentNames,
  planInit,
  type ScaffoldResult,
  WORKSPACE_IGNORE,
  writeScaffold,
} from '../authoring/scaffold.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { dim, green, printJson, table, yellow } from './output.ts';

const usage = 'model-gitops init [--environments dev,staging,production] [--repo DIR] [--force] [--json]';

const help = `usage: ${usage}

Writes environments/<name>.yaml for each environment, each requiring the one before it (a version
must be in dev on main before it enters staging, and so on), models/ (with a .gitkeep while it is
empty), and the ${WORKSPACE_IGNORE} line in .gitignore (the local store, keys and caches). Files that
already exist are kept; --force replaces them. \`model-gitops validate\` passes right after.

  --environments A,B,C   environment names in promotion order (default ${DEFAULT_ENVIRONMENTS.join(',')})
  --repo DIR             the registry repository (default .; created if missing)
  --force                replace existing environment files
  --json                 print {written, skipped, next} as JSON`;

export const initCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        environments: { type: 'string', default: DEFAULT_ENVIRONMENTS.join(',') },
        repo: { type: 'string', default: '.' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    const environments = parseEnvironmentNames(values.environments);
    const files = planInit(values.repo, { environments });
    const result = writeScaffold(values.repo, files, { force: values.force });
    const next = `model-gitops new MODEL --owner @org/team --task text-classification --description "what it does"${repoFlag(values.repo)}`;
    const notes = new Map<string, string>(
      environments.map((e, i) => [
        `environments/${e}.yaml`,
        i === 0 ? 'first stage' : `requires ${environments[i - 1]}`,
      ]),
    );
    notes.set('.gitignore', `ignores ${WORKSPACE_IGNORE}`);
    printScaffold(values.repo, result, { json: values.json, next, notes });
    return EXIT.ok;
  },
};

/** ` --repo DIR` when the command ran on another folder than the current one, for the next step. */
export function repoFlag(repo: string): string {
  const rel = relative(process.cwd(), resolve(repo));
  return rel === '' ? '' : ` --repo ${/^[\w@%+=:,./-]+$/.test(rel) ? rel : JSON.stringify(rel)}`;
}

/** Table rows whose last column is empty end in padding; drop it. */
export function trimLines(text: string): string {
  return text.replace(/ +$/gm, '');
}

/** What init/new wrote and kept, then the next step (or the same as JSON). */
export function printScaffold(
  repo: string,
  result: ScaffoldResult,
  o: { json: boolean; next: string; notes?: Map<string, string>; before?: string[]; after?: string[] },
): void {
  if (o.json) {
    printJson({ written: result.written, skipped: result.skipped.map((s) => s.path), next: o.next });
    return;
  }
  const rows: string[][] = [
    ...result.written.map((p) => [green('wrote'), p, o.notes?.get(p) ? dim(o.notes.get(p)!) : '']),
    ...result.skipped.map((s) => [
      s.reason === 'exists' ? yellow('kept') : 'same',
      s.path,
      dim(s.reason === 'exists' ? 'exists and differs (--force replaces it)' : 'already as it would be written'),
    ]),
  ];
  if (rows.length) console.log(trimLines(table(rows)));
  if (result.written.length === 0) {
    const kept = result.skipped.filter((s) => s.reason === 'exists').length;
    console.log(
      `nothing written in ${repo}: every file is already there${kept ? ` (--force replaces the ${kept} that differ)` : ''}`,
    );
  }
  for (const line of o.before ?? []) console.log(line);
  console.log(`next: ${o.next}`);
  for (const line of o.after ?? []) console.log(line);
}
