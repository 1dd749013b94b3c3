// GitHub Action adapter for `validate`: inputs -> core -> annotations, job summary, outputs, one failure.
import * as core from '@actions/core';
import { relative, resolve } from 'node:path';
import { validateRegistry } from '../../../src/registry/validate.ts';
import { WorkingTreeSource } from '../../../src/registry/source.ts';
import { UserError, isUserError } from '../../../src/lib/errors.ts';
import { annotate, diagnosticsSummary } from '../../shared/annotations.ts';

async function run(): Promise<void> {
  const repo = core.getInput('repo') || '.';
  const maxFileBytes = Number(core.getInput('max-file-bytes') || '1048576');
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes <= 0) throw new UserError(`input max-file-bytes must be a positive whole number, got "${core.getInput('max-file-bytes')}"`);
  const result = validateRegistry(new WorkingTreeSource(repo, { maxFileBytes }), { maxFileBytes });
  // Annotations must name files relative to the workspace root, where GitHub shows the diff.
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const prefix = relative(workspace, resolve(repo));
  annotate(result.diagnostics, prefix);
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
  if (result.errors > 0) core.setFailed(`${result.errors} model card error(s); see the annotations and the job summary`);
}

run().catch((e: unknown) => core.setFailed(isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)));
