// Promotion after a won experiment: the canary becomes the champion and the old champion becomes the
// first instant-rollback target, as an edit of environments/<env>.yaml that keeps comments and layout.
// The pull request it goes into is judged like any promotion (check --base: requires chain, evidence).
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Registry } from '../registry/load.ts';

export interface PromotionPlan {
  model: string;
  environment: string;
  file: string;
  from: string;
  to: string;
  rollbackWindow: string[];
}

export function planPromotion(reg: Registry, model: string, environment: string): PromotionPlan {
  const env = reg.environments.get(environment);
  if (!env)
    throw new UserError(`no environment "${environment}" (have: ${[...reg.environments.keys()].sort().join(', ')})`);
  const d = env.deployments.get(model);
  if (!d) throw new UserError(`${model} is not deployed in ${environment}`);
  if (!d.canary) throw new UserError(`${model} has no canary in ${environment}: there is no challenger to promote`);
  const to = d.canary.version;
  return {
    model,
    environment,
    file: env.file,
    from: d.version,
    to,
    rollbackWindow: [d.version, ...d.rollbackWindow.filter((v) => v !== d.version && v !== to)],
  };
}

export function applyPromotionToText(text: string, plan: PromotionPlan): string {
  const doc = parseDocument(text, { version: '1.2' });
  const models = doc.get('models', true);
  if (!isMap(models)) throw new UserError(`${plan.file}: no "models" mapping`);
  const current = models.get(plan.model, true);
  if (!isMap(current)) throw new UserError(`${plan.file}: ${plan.model} has no canary to promote`);
  const m = current as YAMLMap;
  m.set('version', plan.to);
  m.delete('canary');
  m.set('rollbackWindow', doc.createNode(plan.rollbackWindow, { flow: true }));
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
