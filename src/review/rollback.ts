// Rollback as a change in git: move an environment's model back to a version of its rollback window
// (or drop its canary), editing environments/<env>.yaml in place so comments and layout survive.
// No benchmark is re-run: rollback-window versions already served in that environment.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Registry } from '../registry/load.ts';

export interface RollbackPlan {
  model: string;
  environment: string;
  file: string;
  kind: 'champion' | 'canary';
  from: string;
  to: string;
  /** The rollback window after the change. */
  rollbackWindow: string[];
  droppedCanary?: string;
}

export function planRollback(
  reg: Registry,
  model: string,
  environment: string,
  options: { to?: string; canaryOnly?: boolean } = {},
): RollbackPlan {
  const env = reg.environments.get(environment);
  if (!env)
    throw new UserError(`no environment "${environment}" (have: ${[...reg.environments.keys()].sort().join(', ')})`);
  const d = env.deployments.get(model);
  if (!d) throw new UserError(`${model} is not deployed in ${environment}`);
  if (options.canaryOnly) {
    if (!d.canary) throw new UserError(`${model} has no canary in ${environment}; nothing to roll back`);
    return {
      model,
      environment,
      file: env.file,
      kind: 'canary',
      from: d.canary.version,
      to: d.version,
      rollbackWindow: d.rollbackWindow,
      droppedCanary: d.canary.version,
    };
  }
  if (d.rollbackWindow.length === 0) {
    throw new UserError(
      `${model} in ${environment} has an empty rollbackWindow: there is no instant rollback target. Promote an earlier version by pull request instead.`,
    );
  }
  const to = options.to ?? d.rollbackWindow[0]!;
  const at = d.rollbackWindow.indexOf(to);
  if (at < 0)
    throw new UserError(
      `${to} is not in ${model}'s rollbackWindow in ${environment} (${d.rollbackWindow.join(', ')}); only those can be restored without a new benchmark`,
    );
  return {
    model,
    environment,
    file: env.file,
    kind: 'champion',
    from: d.version,
    to,
    rollbackWindow: d.rollbackWindow.filter((v) => v !== to),
    ...(d.canary ? { droppedCanary: d.canary.version } : {}),
  };
}

/** Rewrites the environment file's text for the plan; everything else in the file is kept as it was. */
export function applyRollbackToText(text: string, plan: RollbackPlan): string {
  const doc = parseDocument(text, { version: '1.2' });
  const models = doc.get('models', true);
  if (!isMap(models)) throw new UserError(`${plan.file}: no "models" mapping`);
  const current = models.get(plan.model, true);
  if (plan.kind === 'canary') {
    if (!isMap(current)) throw new UserError(`${plan.file}: ${plan.model} has no canary to drop`);
    (current as YAMLMap).delete('canary');
    return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  }
  if (plan.rollbackWindow.length === 0) {
    models.set(plan.model, plan.to); // back to the short form
  } else if (isMap(current)) {
    (current as YAMLMap).set('version', plan.to);
    (current as YAMLMap).delete('canary');
    (current as YAMLMap).set('rollbackWindow', doc.createNode(plan.rollbackWindow, { flow: true }));
  } else {
    models.set(plan.model, doc.createNode({ version: plan.to, rollbackWindow: plan.rollbackWindow }));
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

export function rolledBackText(repo: string, plan: RollbackPlan): string {
  return applyRollbackToText(readFileSync(join(repo, plan.file), 'utf8'), plan);
}

export function writeRollback(repo: string, plan: RollbackPlan, text: string): void {
  writeFileSync(join(repo, plan.file), text);
}
