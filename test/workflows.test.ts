// Guards on .github/workflows: least privilege and supply chain. Every workflow sets top-level
// `permissions`; every third-party action is pinned by a full commit SHA; self-hosted (GPU) jobs are
// never started by a plain `pull_request` event, which fork pull requests can trigger.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

const dir = join(ROOT, '.github', 'workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));

interface Workflow {
  on: Record<string, unknown> | string[] | string;
  permissions?: unknown;
  jobs: Record<string, { 'runs-on'?: unknown; steps?: { uses?: string }[] }>;
}

describe('GitHub workflows', () => {
  it('exist: pull-request, publish, resign, rollback, benchmark', () => {
    expect(files.sort()).toEqual(
      expect.arrayContaining(['benchmark.yml', 'publish.yml', 'pull-request.yml', 'resign.yml', 'rollback.yml']),
    );
  });

  it.each(files)(
    '%s: top-level permissions, SHA-pinned third-party actions, no self-hosted job on pull_request',
    (file) => {
      const wf = parse(readFileSync(join(dir, file), 'utf8')) as Workflow;
      expect(wf.permissions, 'top-level permissions').toBeDefined();
      const triggers = typeof wf.on === 'string' ? [wf.on] : Array.isArray(wf.on) ? wf.on : Object.keys(wf.on);
      for (const [name, job] of Object.entries(wf.jobs)) {
        for (const step of job.steps ?? []) {
          if (!step.uses || step.uses.startsWith('./')) continue;
          expect(step.uses, `${file} ${name}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        }
        const runsOn = JSON.stringify(job['runs-on'] ?? '');
        if (runsOn.includes('self-hosted'))
          expect(triggers, `${file} ${name} runs on self-hosted`).not.toContain('pull_request');
      }
    },
  );
});

describe('action metadata', () => {
  const actions = readdirSync(join(ROOT, 'actions')).filter((n) => n !== 'shared');
  it.each(actions)('actions/%s/action.yml runs its committed bundle on node24', (name) => {
    const meta = parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as {
      name: string;
      description: string;
      runs: { using: string; main: string };
      inputs?: Record<string, { description?: string }>;
    };
    expect(meta.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(meta.description.length).toBeGreaterThan(20);
    for (const [input, spec] of Object.entries(meta.inputs ?? {}))
      expect(spec.description, `${name} input ${input}`).toBeTruthy();
    expect(readFileSync(join(ROOT, 'actions', name, 'dist', 'index.js')).length).toBeGreaterThan(1000);
  });
});
