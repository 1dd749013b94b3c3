// GitHub Action adapter for `publish`: inputs/env -> publishRegistry -> outputs and a job summary.
// Every secret it touches is masked before anything else runs.
import * as core from '@actions/core';
import { resolve } from 'node:path';
import { resolveCommit } from '../../../src/registry/git-source.ts';
import {
  type EnvironmentChanges,
  parseDuration,
  publishRegistry,
  MissingBlobsError,
  RegistryInvalidError,
} from '../../../src/publish/index.ts';
import { defaultStoreUrl } from '../../../src/store/default.ts';
import { openStore } from '../../../src/store/open.ts';
import { KEY_ENV, loadPublishKeys, ONLINE_ROLES, type OnlineRole } from '../../../src/trust/role-keys.ts';
import { booleanInput, optionalInput, stringInput } from '../../shared/inputs.ts';
import { runAction } from '../../shared/run.ts';

/** The inputs of action.yml. */
const INPUT = {
  store: 'store',
  repo: 'repo',
  commit: 'commit',
  sourceRepository: 'source-repository',
  expiresIn: 'expires-in',
  recover: 'recover',
} as const;
const KEY_INPUT: Record<OnlineRole, string> = {
  targets: 'targets-key',
  snapshot: 'snapshot-key',
  timestamp: 'timestamp-key',
};

const SECRET_ENV = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID'];

function maskSecrets(env: NodeJS.ProcessEnv): void {
  for (const role of ONLINE_ROLES) {
    for (const value of [stringInput(KEY_INPUT[role]), env[KEY_ENV[role]]]) {
      if (!value) continue;
      core.setSecret(value);
      core.setSecret(value.trim());
      // The base64 body alone too, in case something prints a fragment of the one-line form.
      const body = value.trim().split(':').pop();
      if (body && body.length > 16) core.setSecret(body);
    }
  }
  for (const name of SECRET_ENV) if (env[name]) core.setSecret(env[name]!);
}

function changesTable(changes: EnvironmentChanges[]): string {
  const rows = changes.flatMap((e) =>
    e.changes.length
      ? e.changes.map(
          (c) =>
            `<tr><td>${e.environment}</td><td>${c.model}</td><td>${c.before ?? '(none)'}</td><td>${c.after ?? '(removed)'}</td></tr>`,
        )
      : [`<tr><td>${e.environment}</td><td colspan="3">unchanged</td></tr>`],
  );
  return `<table><tr><th>Environment</th><th>Model</th><th>Before</th><th>After</th></tr>${rows.join('')}</table>`;
}

async function publish(): Promise<void> {
  const env = process.env;
  maskSecrets(env);
  // Inputs given as inputs become the same environment variables loadPublishKeys reads.
  const keyEnv: NodeJS.ProcessEnv = { ...env };
  for (const role of ONLINE_ROLES) {
    const key = optionalInput(KEY_INPUT[role]);
    if (key) keyEnv[KEY_ENV[role]] = key;
  }
  const repo = resolve(stringInput(INPUT.repo, '.'));
  const storeUrl = optionalInput(INPUT.store) ?? defaultStoreUrl(repo, env);
  const expiresIn = parseDuration(stringInput(INPUT.expiresIn, '7d'), `input ${INPUT.expiresIn}`);
  const commit = resolveCommit(repo, optionalInput(INPUT.commit) ?? (env.GITHUB_SHA || 'HEAD'));
  const repository = optionalInput(INPUT.sourceRepository) ?? (env.GITHUB_REPOSITORY || 'local/registry');
  const recover = booleanInput(INPUT.recover, false);
  const keys = loadPublishKeys(undefined, keyEnv);
  const store = openStore(storeUrl, { s3: { stateDir: resolve(env.RUNNER_TEMP ?? repo, '.model-gitops') } });

  const r = await publishRegistry({
    repo,
    store,
    keys,
    expiresIn,
    recoverOrphans: recover,
    source: { repository, commit },
    onEvent: (e) => {
      if (e.type === 'claimed') core.info(`claimed sequence ${e.sequence}`);
      else if (e.type === 'claim-lost')
        core.info(`sequence ${e.sequence} was taken by another publisher; taking the next`);
      else if (e.type === 'retry') core.info(`retry ${e.attempt}: ${e.reason}`);
      else if (e.type === 'verified') core.info(`store holds all ${e.blobs} referenced blobs`);
    },
  });
  core.info(r.message);
  core.setOutput('status', r.status);
  core.setOutput('sequence', String(r.sequence));
  core.setOutput('sha256', r.sha256);
  const summary = core.summary
    .addHeading(`Manifest ${r.status === 'published' ? `sequence ${r.sequence} published` : r.status}`, 2)
    .addRaw(`<p>${r.message}</p>`, true)
    .addTable([
      [
        { data: 'Sequence', header: true },
        { data: 'Commit', header: true },
        { data: 'sha256', header: true },
        { data: 'Expires', header: true },
        { data: 'Store', header: true },
      ],
      [String(r.sequence), `${r.source.repository}@${r.source.commit}`, r.sha256, r.expiresAt, store.url],
    ]);
  if (r.status === 'published') summary.addHeading('Changes per environment', 3).addRaw(changesTable(r.changes), true);
  await summary.write();
}

async function run(): Promise<void> {
  try {
    await publish();
  } catch (e) {
    // A registry that does not validate, or blobs missing from the store: the summary says so too.
    if (e instanceof MissingBlobsError || e instanceof RegistryInvalidError) {
      await core.summary
        .addHeading('Manifest not published', 2)
        .addCodeBlock(e.message)
        .write()
        .catch(() => undefined);
    }
    throw e;
  }
}

void runAction(run);
