// Adapters and derived models in `check --base`: an adapter's base must be in every environment that runs
// it, inside its range; a base move that leaves the range names every adapter it breaks; a base range on a
// new major is a major bump; a chat template or tokenizer_config.json change is a major bump.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRepos, errorsOf, fixtureRepo, makeRepo, newVersion, rules } from './repo.ts';

afterAll(cleanupRepos);

const DEV = 'environments/dev.yaml';
const IC = 'intent-classifier';
const LORA = 'support-lora';
const SQL = 'sql-lora';
const SHA = (c: string) => c.repeat(64);

function adapterCard(name: string, version: string, base: string, extra = ''): string {
  return `name: ${name}
version: ${version}
summary: A LoRA adapter for support replies.
interface:
  inputs: [{name: text, dtype: string}]
  outputs: [{name: label, dtype: string}]
architecture: {family: mlp, format: safetensors}
artifacts:
  - {path: adapter_model.safetensors, sha256: ${SHA('a')}, size: 1024}
  - {path: adapter_config.json, sha256: ${SHA('b')}, size: 300}
lineage:
  code: {repository: acme/slm-training, commit: ${'c'.repeat(40)}}
base: ${base}
${extra}`;
}

const modelYaml = (name: string) =>
  `name: ${name}\nowners: ["@acme/ml-platform"]\ntask: text-classification\ndescription: A LoRA adapter on the intent classifier.\n`;

/**
 * valid-base with two adapters on intent-classifier (^2.0.0 and ~2.1.0) deployed in dev, where
 * intent-classifier 2.1.0 runs, and an intent-classifier 3.0.0 card: committed as the base.
 */
function withAdapters() {
  const repo = fixtureRepo();
  repo.write(`models/${LORA}/model.yaml`, modelYaml(LORA));
  repo.write(
    `models/${LORA}/versions/1.2.0.yaml`,
    adapterCard(LORA, '1.2.0', `{model: ${IC}, range: ^2.0.0, relation: adapter}`),
  );
  repo.write(`models/${SQL}/model.yaml`, modelYaml(SQL));
  repo.write(
    `models/${SQL}/versions/0.3.0.yaml`,
    adapterCard(SQL, '0.3.0', `{model: ${IC}, range: ~2.1.0, relation: adapter}`),
  );
  newVersion(repo, IC, '2.1.0', '3.0.0', [['labels: [greet, order, cancel_order, other]', 'labels: [greet, other]']]);
  // structured-extractor depends on intent-classifier ^2; leave it out of dev so only adapters are in play.
  repo.write(DEV, `models:\n  intent-classifier: 2.1.0\n  pii-scrubber: 1.4.2\n  ${LORA}: 1.2.0\n  ${SQL}: 0.3.0\n`);
  repo.commitBase('adapters in dev');
  expect(errorsOf(repo.check())).toEqual([]);
  return repo;
}

describe('adapter bases in environments', { timeout: 30_000 }, () => {
  it('accepts the base registry with adapters whose base runs in range', () => {
    withAdapters();
  });

  it('refuses moving the base out of range and names every adapter it breaks, at the base line', () => {
    const repo = withAdapters();
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 3.0.0');
    const r = repo.check();
    expect(rules(r)).toEqual(['base-broken-by-move']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: DEV,
      line: repo.lineOf(DEV, 'intent-classifier:'),
      field: `models.${IC}`,
      message: `moving ${IC} in dev from 2.1.0 to 3.0.0 breaks 2 adapters that run on it: ${LORA} 1.2.0 (range ^2.0.0), ${SQL} 0.3.0 (range ~2.1.0); move them to a version whose base range includes 3.0.0, or keep ${IC} in range`,
    });
  });

  it('names only the adapters whose range the move leaves', () => {
    const repo = withAdapters();
    newVersion(repo, IC, '2.1.0', '2.2.0', [['epochs: 3', 'epochs: 4']]);
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 2.2.0');
    const r = repo.check();
    expect(rules(r)).toEqual(['base-broken-by-move']);
    expect(errorsOf(r)[0]!.message).toContain(`breaks an adapter that runs on it: ${SQL} 0.3.0 (range ~2.1.0)`);
    expect(errorsOf(r)[0]!.message).not.toContain(LORA);
  });

  it('accepts the base move when the adapters move to versions in range in the same change', () => {
    const repo = withAdapters();
    repo.write(
      `models/${LORA}/versions/2.0.0.yaml`,
      adapterCard(LORA, '2.0.0', `{model: ${IC}, range: ^3.0.0, relation: adapter}`),
    );
    repo.write(
      `models/${SQL}/versions/1.0.0.yaml`,
      adapterCard(SQL, '1.0.0', `{model: ${IC}, range: ">=3.0.0 <4", relation: adapter}`),
    );
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 3.0.0');
    repo.edit(DEV, `${LORA}: 1.2.0`, `${LORA}: 2.0.0`);
    repo.edit(DEV, `${SQL}: 0.3.0`, `${SQL}: 1.0.0`);
    expect(errorsOf(repo.check())).toEqual([]);
  });

  it('refuses removing the base from an environment that still runs an adapter, at the adapter line', () => {
    const repo = withAdapters();
    repo.edit(DEV, '  intent-classifier: 2.1.0\n', '');
    const r = repo.check();
    expect(rules(r)).toEqual(['base-missing', 'base-missing']);
    const lora = errorsOf(r).find((d) => d.field === `models.${LORA}`)!;
    expect(lora).toMatchObject({
      file: DEV,
      line: repo.lineOf(DEV, `${LORA}:`),
      message: `adapter ${LORA}@1.2.0 runs on ${IC} ^2.0.0, but ${IC} is not deployed in dev; deploy a ${IC} version in that range here too`,
    });
  });

  it('refuses an adapter entering an environment whose base is out of its range', () => {
    const repo = withAdapters();
    repo.write(
      `models/${LORA}/versions/1.3.0.yaml`,
      adapterCard(LORA, '1.3.0', `{model: ${IC}, range: ^2.2.0, relation: adapter}`),
    );
    repo.edit(DEV, `${LORA}: 1.2.0`, `${LORA}: 1.3.0`);
    const r = repo.check();
    // ^2.2.0 overlaps ^2.0.0 on the same major: a minor is enough, so only the environment fails.
    expect(rules(r)).toEqual(['base-range-unmatched', 'base-range-unsatisfied']);
    expect(errorsOf(r).find((d) => d.rule === 'base-range-unsatisfied')).toMatchObject({
      file: DEV,
      line: repo.lineOf(DEV, 'intent-classifier:'),
      message: `${IC} 2.1.0 (champion in dev) is outside the base range of adapter ${LORA}@1.3.0: ^2.2.0`,
    });
  });

  it('does not need the base of merged, quantized or fine-tuned weights at run time', () => {
    const repo = withAdapters();
    for (const [i, relation] of ['merge', 'quantized', 'finetune'].entries()) {
      const name = `derived-${i}`;
      repo.write(`models/${name}/model.yaml`, modelYaml(name));
      repo.write(
        `models/${name}/versions/1.0.0.yaml`,
        adapterCard(name, '1.0.0', `{model: not-in-registry, range: ^1.0.0, relation: ${relation}}`),
      );
      repo.edit(DEV, `${SQL}: 0.3.0`, `${SQL}: 0.3.0\n  ${name}: 1.0.0`);
    }
    expect(errorsOf(repo.check())).toEqual([]);
  });
});

describe('base field validation', { timeout: 30_000 }, () => {
  it.each([
    [
      'an invalid range',
      `{model: ${IC}, range: "^^2", relation: adapter}`,
      'base-range',
      'base.range',
      '"^^2" is not a valid semver range of intent-classifier versions (e.g. ^1.0.0, >=1.2 <2)',
    ],
    [
      'a range no version satisfies',
      `{model: ${IC}, range: ^9.0.0, relation: adapter}`,
      'base-range-unmatched',
      'base.range',
      'no version of intent-classifier satisfies ^9.0.0 (known: 3.0.0, 2.1.0, 2.0.0, 1.1.0, 1.0.0)',
    ],
    [
      'an unknown base model',
      '{model: llama-base, range: ^1.0.0, relation: adapter}',
      'base-unknown',
      'base.model',
      'adapter\'s base "llama-base" is not a model in models/; an adapter runs on its base, so the base must be registered',
    ],
    [
      'itself as the base',
      `{model: ${LORA}, range: ^1.0.0, relation: adapter}`,
      'base-self',
      'base.model',
      'a version cannot be its own base',
    ],
  ])('refuses %s, naming the file, line and field', (_what, base, rule, field, message) => {
    const repo = withAdapters();
    const file = `models/${LORA}/versions/1.2.1.yaml`;
    repo.write(file, adapterCard(LORA, '1.2.1', base));
    const d = errorsOf(repo.check()).find((x) => x.rule === rule);
    expect(d).toMatchObject({ file, line: repo.lineOf(file, 'base:'), field, message });
  });

  it.each([
    ['a relation outside the enum', `{model: ${IC}, range: ^2.0.0, relation: lora}`, 'base.relation'],
    ['a missing range', `{model: ${IC}, relation: adapter}`, 'base.range'],
    ['an unknown key', `{model: ${IC}, range: ^2.0.0, relation: adapter, rank: 8}`, 'base.rank'],
    ['a range that is not a string', `{model: ${IC}, range: [2], relation: adapter}`, 'base.range'],
  ])('refuses %s through the schema', (_what, base, field) => {
    const repo = withAdapters();
    const file = `models/${LORA}/versions/1.2.1.yaml`;
    repo.write(file, adapterCard(LORA, '1.2.1', base));
    const errs = errorsOf(repo.check()).filter((x) => x.file === file);
    expect(errs.length).toBeGreaterThan(0);
    expect(errs.map((e) => e.field)).toContain(field);
  });
});

describe('merged adapters', { timeout: 30_000 }, () => {
  it("refuses editing a merged version's base: it is as frozen as its artifacts", () => {
    const repo = withAdapters();
    const file = `models/${LORA}/versions/1.2.0.yaml`;
    repo.edit(file, 'range: ^2.0.0', 'range: ^2.1.0');
    const d = errorsOf(repo.check()).find((x) => x.rule === 'immutable-field')!;
    expect(d).toMatchObject({ file, field: 'base.range', line: repo.lineOf(file, 'base:') });
    expect(d.message).toContain('support-lora 1.2.0 is already on the base branch, so base.range may not change');
  });
});

describe('renaming a base model', { timeout: 30_000 }, () => {
  /** The example fleet with pii-lora (an adapter on pii-scrubber ^1.4.0) in dev, then pii-scrubber renamed. */
  const renamed = (follow: boolean) => {
    const repo = makeRepo();
    repo.write('models/pii-lora/model.yaml', modelYaml('pii-lora'));
    const card = 'models/pii-lora/versions/1.0.0.yaml';
    repo.write(card, adapterCard('pii-lora', '1.0.0', '{model: pii-scrubber, range: ^1.4.0, relation: adapter}'));
    repo.edit(DEV, 'pii-scrubber: 1.4.2', 'pii-scrubber: 1.4.2\n  pii-lora: 1.0.0');
    repo.commitBase('pii-lora in dev');
    repo.move('models/pii-scrubber', 'models/pii-masker');
    repo.edit('models/pii-masker/model.yaml', 'name: pii-scrubber', 'name: pii-masker');
    for (const v of ['1.4.1', '1.4.2'])
      repo.edit(`models/pii-masker/versions/${v}.yaml`, 'name: pii-scrubber', 'name: pii-masker');
    repo.edit('models/pii-masker/versions/1.4.2.yaml', 'parent: pii-scrubber@1.4.1', 'parent: pii-masker@1.4.1');
    for (const env of ['dev', 'staging', 'production'])
      repo.edit(`environments/${env}.yaml`, 'pii-scrubber:', 'pii-masker:');
    if (follow) repo.edit(card, 'model: pii-scrubber', 'model: pii-masker');
    return { repo, card, r: repo.check() };
  };

  it('is no edit of the adapter when its base follows the rename', () => {
    const { r } = renamed(true);
    expect(errorsOf(r)).toEqual([]);
  });

  it('names the adapter that still runs on the old name', () => {
    const { r, card, repo } = renamed(false);
    expect(rules(r)).toEqual(['renamed-model-referenced']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: card,
      field: 'base.model',
      line: repo.lineOf(card, 'base:'),
      message:
        'pii-scrubber is renamed to pii-masker in this change, but pii-lora@1.0.0 still names pii-scrubber as its base; write pii-masker',
    });
  });
});

describe('semver of derived versions', { timeout: 30_000 }, () => {
  const bump = (base: string, version: string) => {
    const repo = withAdapters();
    const file = `models/${LORA}/versions/${version}.yaml`;
    repo.write(file, adapterCard(LORA, version, base));
    return { repo, file, r: repo.check() };
  };

  it('refuses a minor bump whose base range moves to a new major of the base, with the row', () => {
    const { r, file, repo } = bump(`{model: ${IC}, range: ^3.0.0, relation: adapter}`, '1.3.0');
    const d = errorsOf(r).find((x) => x.rule === 'semver-bump')!;
    expect(d).toMatchObject({ file, line: repo.lineOf(file, 'version:') });
    expect(d.message).toContain('support-lora 1.3.0 is a minor bump over 1.2.0, but its changes need a major bump');
    expect(d.message).toMatch(
      /base\.range\s+base range intent-classifier \^2\.0\.0 -> \^3\.0\.0 \(a new major of the base\)\s+major/,
    );
    expect(r.semver).toContainEqual(expect.objectContaining({ model: LORA, version: '1.3.0', required: 'major' }));
  });

  it('accepts the same change as a major bump', () => {
    const { r } = bump(`{model: ${IC}, range: ^3.0.0, relation: adapter}`, '2.0.0');
    expect(errorsOf(r).filter((x) => x.rule === 'semver-bump')).toEqual([]);
  });

  it('requires a major for a new base model or a new relation', () => {
    const other = bump('{model: pii-scrubber, range: ^1.4.0, relation: adapter}', '1.3.0').r;
    expect(errorsOf(other).find((x) => x.rule === 'semver-bump')!.message).toMatch(
      /base\.model\s+base intent-classifier -> pii-scrubber\s+major/,
    );
    const rel = bump(`{model: ${IC}, range: ^2.0.0, relation: merge}`, '1.2.1').r;
    expect(errorsOf(rel).find((x) => x.rule === 'semver-bump')!.message).toMatch(
      /base\.relation\s+relation adapter -> merge\s+major/,
    );
  });

  it('takes a narrowed range on the same major as a minor, not a patch', () => {
    const patch = bump(`{model: ${IC}, range: ^2.1.0, relation: adapter}`, '1.2.1').r;
    expect(errorsOf(patch).find((x) => x.rule === 'semver-bump')!.message).toContain('need a minor bump');
    const minor = bump(`{model: ${IC}, range: ^2.1.0, relation: adapter}`, '1.3.0').r;
    expect(errorsOf(minor).filter((x) => x.rule === 'semver-bump')).toEqual([]);
  });
});

describe('chat template and tokenizer_config.json digests', { timeout: 30_000 }, () => {
  const TEMPLATE = (c: string) => `  chatTemplate: {sha256: ${SHA(c)}, source: tokenizer_config.json}`;
  const withTemplate = () => {
    const repo = fixtureRepo();
    newVersion(repo, IC, '2.1.0', '2.2.0', [['  tokenizer:', `${TEMPLATE('d')}\n  tokenizer:`]]);
    repo.edit(
      `models/${IC}/versions/2.2.0.yaml`,
      /sha256: 85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f}\n/,
      `sha256: 85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f, configSha256: ${SHA('f')}}\n`,
    );
    repo.commitBase('2.2.0 with a chat template');
    expect(errorsOf(repo.check())).toEqual([]);
    return repo;
  };

  it('takes recording a template and tokenizer config for the first time as a patch', () => {
    const repo = fixtureRepo();
    const file = newVersion(repo, IC, '2.1.0', '2.1.1', [['  tokenizer:', `${TEMPLATE('d')}\n  tokenizer:`]]);
    repo.edit(file, /c662e2f}\n/, `c662e2f, configSha256: ${SHA('f')}}\n`);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver).toContainEqual(expect.objectContaining({ version: '2.1.1', required: 'patch' }));
  });

  it('refuses a minor bump that changes the chat template', () => {
    const repo = withTemplate();
    const file = newVersion(repo, IC, '2.2.0', '2.3.0', [[TEMPLATE('d'), TEMPLATE('e')]]);
    const d = errorsOf(repo.check()).find((x) => x.rule === 'semver-bump')!;
    expect(d.file).toBe(file);
    expect(d.message).toMatch(
      /interface\.chatTemplate\s+chat template changed \(sha256 dddddddddddd\.\.\. -> eeeeeeeeeeee\.\.\.\)\s+major\s+interface break/,
    );
  });

  it('refuses a patch that removes the chat template', () => {
    const repo = withTemplate();
    newVersion(repo, IC, '2.2.0', '2.2.1', [[`${TEMPLATE('d')}\n`, '']]);
    const d = errorsOf(repo.check()).find((x) => x.rule === 'semver-bump')!;
    expect(d.message).toMatch(/interface\.chatTemplate\s+chat template removed\s+major/);
  });

  it('refuses a minor bump that changes tokenizer_config.json, and accepts it as a major', () => {
    const repo = withTemplate();
    newVersion(repo, IC, '2.2.0', '2.3.0', [[`configSha256: ${SHA('f')}`, `configSha256: ${SHA('a')}`]]);
    const d = errorsOf(repo.check()).find((x) => x.rule === 'semver-bump')!;
    expect(d.message).toMatch(/interface\.tokenizer\.configSha256\s+tokenizer_config\.json changed/);
    // The tokenizer file itself did not change: no tokenizer row.
    expect(d.message).not.toMatch(/interface\.tokenizer\s+tokenizer /);
    repo.remove(`models/${IC}/versions/2.3.0.yaml`);
    newVersion(repo, IC, '2.2.0', '3.0.0', [[`configSha256: ${SHA('f')}`, `configSha256: ${SHA('a')}`]]);
    expect(errorsOf(repo.check())).toEqual([]);
  });

  it('refuses a malformed template digest through the schema', () => {
    const repo = withTemplate();
    const file = newVersion(repo, IC, '2.2.0', '3.0.0', [[TEMPLATE('d'), '  chatTemplate: {sha256: not-hex}']]);
    const errs = errorsOf(repo.check()).filter((x) => x.file === file);
    expect(errs.map((e) => e.field)).toContain('interface.chatTemplate.sha256');
  });
});
