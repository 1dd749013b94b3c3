// `model-gitops new MODEL`: a model card (owners, task, description, a commented benchmark recipe)
// and its empty versions/ folder.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TASK, modelCardInputs, planNewModel, writeScaffold } from '../authoring/scaffold.ts';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printScaffold, repoFlag } from './init.ts';

const usage =
  'model-gitops new MODEL --owner @ORG/TEAM|@USER [--owner ...] [--task TEXT] [--description TEXT] [--repo DIR] [--force] [--json]';

const help = `usage: ${usage}

Writes models/MODEL/model.yaml (name, owners, task, description, and a commented-out benchmark recipe
to fill in) and models/MODEL/versions/ (with a .gitkeep). \`model-gitops validate\` passes right after;
the first version then comes from \`model-gitops push\`.

  --owner NAME        a GitHub user (@login) or team (@org/team) who reviews changes to the model; repeatable
  --task TEXT         kebab-case task, e.g. text-classification, token-classification (default ${DEFAULT_TASK})
  --description TEXT  what the model is for and who calls it (default: a placeholder to edit)
  --repo DIR          the registry repository (default .)
  --force             replace an existing model.yaml
  --json              print {written, skipped, next} as JSON`;

export const newCommand: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        owner: { type: 'string', multiple: true },
        task: { type: 'string' },
        description: { type: 'string' },
        repo: { type: 'string', default: '.' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
      true,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    const [name, ...extra] = positionals;
    if (!name || extra.length) throw new UserError(`expected exactly one model name\nusage: ${usage}`);
    if (!existsSync(values.repo) || !statSync(values.repo).isDirectory())
      throw new UserError(`repository folder not found: ${values.repo}`);
    const inputs = modelCardInputs({
      name,
      owners: values.owner ?? [],
      ...(values.task !== undefined ? { task: values.task } : {}),
      ...(values.description !== undefined ? { description: values.description } : {}),
    });
    const files = planNewModel(values.repo, inputs);
    // A model that already has a different card is refused as a whole: `new` is for new models.
    const card = files[0]!;
    const cardAbs = join(values.repo, ...card.path.split('/'));
    if (!values.force && existsSync(cardAbs) && readFileSync(cardAbs, 'utf8') !== card.content)
      throw new UserError(`${card.path} already exists; nothing written (--force replaces it)`);
    const result = writeScaffold(values.repo, files, { force: values.force });
    const next =
      `model-gitops push ./weights --model ${name} --version 0.1.0 --summary "first version" ` +
      `--code-repo OWNER/NAME --code-commit SHA --draft${repoFlag(values.repo)}`;
    const before = inputs.defaulted.length
      ? [
          `note: ${inputs.defaulted.map((f) => (f === 'task' ? `task is ${DEFAULT_TASK} (the default)` : 'description is a placeholder')).join(' and ')}: edit ${card.path}`,
        ]
      : [];
    const after = [
      '      (a first version has no earlier card to copy its interface from: --draft writes it as TODO placeholders to fill in)',
    ];
    printScaffold(values.repo, result, { json: values.json, next, before, after });
    return EXIT.ok;
  },
};
