// GitHub Action adapter for `validate`: inputs -> core -> annotations, job summary, outputs, one failure.
import * as core from '@actions/core';
import { validateRegistry } from '../../../src/registry/validate.ts';
import { WorkingTreeSource } from '../../../src/registry/source.ts';
import { annotate, diagnosticsSummary, workspacePrefix } from '../../shared/annotations.ts';
import { positiveIntInput, stringInput } from '../../shared/inputs.ts';
import { runAction } from '../../shared/run.ts';

/** The inputs of action.yml. */
const INPUT = { repo: 'repo', maxFileBytes: 'max-file-bytes' } as const;

async function run(): Promise<void> {
  const repo = stringInput(INPUT.repo, '.');
  const maxFileBytes = positiveIntInput(INPUT.maxFileBytes, 1048576);
  const result = validateRegistry(new WorkingTreeSource(repo, { maxFileBytes }), { maxFileBytes });
  // Annotations must name files relative to the workspace root, where GitHub shows the diff.
  const prefix = workspacePrefix(repo);
  annotate(result.diagnostics, { prefix });
  const c = result.counts;
  await diagnosticsSummary(
    'Model cards',
    result.errors === 0
      ? `All ${c.files} registry files are valid: ${c.models} models, ${c.versions} versions, ${c.environments} environments.`
      : `${result.errors} error(s) and ${result.warnings} warning(s) in ${c.files} registry files.`,
    result.diagnostics,
    prefix,
  );
  core.setOutput('valid', String(result.errors === 0));
  core.setOutput('errors', String(result.errors));
  core.setOutput('warnings', String(result.warnings));
  if (result.errors > 0)
    core.setFailed(`${result.errors} model card error(s); see the annotations and the job summary`);
}

void runAction(run);
