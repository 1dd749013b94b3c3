// Deprecation with a sunset: both card forms, the headers (RFC 9745 / 8594 / successor-version link)
// on a real gateway, check's promotion rule and validate's sunset warning on real registries.
import { Agent } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import {
  deprecationHeaders,
  describeDeprecation,
  isPastSunset,
  parseDay,
  readDeprecation,
} from '../../src/manifest/deprecation.ts';
import { manifestVersion } from '../../src/manifest/manifest.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { validateRegistry } from '../../src/registry/validate.ts';
import { type TestRepo, cleanupRepos, makeRepo } from '../check/repo.ts';
import { demoEntry, demoManifest, demoWeightsDir, predictBody, send } from '../gateway/helpers.ts';
import { edit, exampleRepo } from '../helpers.ts';

const M = 'intent-classifier';
const src = (repo: string) => new WorkingTreeSource(repo, { maxFileBytes: 1 << 20 });

describe('deprecation fields', () => {
  it('reads the boolean and the object form; qualifies a bare replacement version', () => {
    expect(readDeprecation(undefined, M)).toBeUndefined();
    expect(readDeprecation(false, M)).toBeUndefined();
    expect(readDeprecation(true, M)).toEqual({});
    expect(
      readDeprecation({ since: '2026-01-05', sunset: '2026-03-01', replacement: '2.1.0', reason: 'r' }, M),
    ).toEqual({ since: '2026-01-05', sunset: '2026-03-01', replacement: `${M}@2.1.0`, reason: 'r' });
    expect(readDeprecation({ replacement: 'pii-scrubber@1.4.2' }, M)).toEqual({ replacement: 'pii-scrubber@1.4.2' });
  });

  it('computes the three headers', () => {
    expect(deprecationHeaders(undefined)).toEqual({});
    expect(deprecationHeaders({})).toEqual({ deprecation: '@0' });
    expect(deprecationHeaders({ since: '2026-01-05', sunset: '2026-03-01', replacement: `${M}@2.1.0` })).toEqual({
      deprecation: `@${Date.UTC(2026, 0, 5) / 1000}`,
      sunset: 'Sun, 01 Mar 2026 00:00:00 GMT',
      link: `</v1/models/${M}?version=2.1.0>; rel="successor-version"`,
    });
  });

  it('sunset is the start of its day (UTC); malformed and impossible dates are refused by name', () => {
    const d = { sunset: '2026-03-01' };
    expect(isPastSunset(d, new Date('2026-02-28T23:59:59Z'))).toBe(false);
    expect(isPastSunset(d, new Date('2026-03-01T00:00:00Z'))).toBe(true);
    expect(isPastSunset({}, new Date('2099-01-01'))).toBe(false);
    expect(() => parseDay('2026-02-30', 'deprecated.sunset')).toThrow(
      /deprecated.sunset must be a date written YYYY-MM-DD, got "2026-02-30"/,
    );
    expect(() => parseDay('2026-3-1', 'x')).toThrow(/YYYY-MM-DD/);
    expect(() => deprecationHeaders({ since: 'soon' })).toThrow(/deprecation.since/);
    expect(describeDeprecation({ sunset: '2020-01-01', replacement: 'm@2.0.0' }, new Date())).toBe(
      'deprecated, sunset passed on 2020-01-01, use m@2.0.0',
    );
  });

  it('the schema accepts both forms and refuses a bad date, an unknown field and a bad replacement', () => {
    const repo = exampleRepo();
    const card = 'models/intent-classifier/versions/1.1.0.yaml';
    const errorsWith = (deprecated: string) => {
      edit(repo, card, (t) => `${t.replace(/\ndeprecated:.*(\n  .*)*/g, '')}\ndeprecated: ${deprecated}\n`);
      return validateRegistry(src(repo)).diagnostics.filter((d) => d.file === card && d.severity === 'error');
    };
    expect(errorsWith('true')).toEqual([]);
    expect(errorsWith('{since: 2026-01-05, sunset: 2026-03-01, replacement: 2.1.0, reason: retrained}')).toEqual([]);
    expect(errorsWith('{replacement: intent-classifier@2.1.0}')).toEqual([]);
    expect(
      errorsWith('{sunset: 2026-13-01}')
        .map((d) => d.field)
        .join(),
    ).toMatch(/deprecated/);
    expect(errorsWith('{sunset: tomorrow}').length).toBeGreaterThan(0);
    expect(errorsWith('{until: 2026-01-01}').length).toBeGreaterThan(0);
    expect(errorsWith('{replacement: v2}').length).toBeGreaterThan(0);
    expect(errorsWith('"yes"').length).toBeGreaterThan(0);
    // archived: {on, reason}, with on a real date and nothing else.
    const archivedErrors = (archived: string) => {
      edit(repo, card, (t) => `${t.replace(/\n(deprecated|archived):.*/g, '')}\narchived: ${archived}\n`);
      return validateRegistry(src(repo)).diagnostics.filter((d) => d.file === card && d.severity === 'error');
    };
    expect(archivedErrors('{on: 2026-11-30, reason: superseded}')).toEqual([]);
    expect(
      archivedErrors('{reason: superseded}')
        .map((d) => d.message)
        .join(),
    ).toMatch(/on/);
    expect(archivedErrors('{on: 2026-02-30}').length).toBeGreaterThan(0);
    expect(archivedErrors('{on: 2026-11-30, by: me}').length).toBeGreaterThan(0);
    expect(archivedErrors('true').length).toBeGreaterThan(0);
  });

  it('the manifest entry carries the deprecation', () => {
    const entry = demoEntry(M, '1.1.0');
    expect(entry.deprecation).toBeUndefined();
    const repo = exampleRepo();
    edit(
      repo,
      'models/intent-classifier/versions/1.1.0.yaml',
      (t) => `${t}\ndeprecated: {sunset: 2030-01-01, replacement: 2.1.0}\n`,
    );
    const card = validateRegistry(src(repo)).registry.models.get(M)!.versions.get('1.1.0')!.card;
    expect(manifestVersion(card).deprecation).toEqual({ sunset: '2030-01-01', replacement: `${M}@2.1.0` });
  });
});

describe('check and validate', () => {
  afterAll(cleanupRepos);
  function repoWith(deprecated: string) {
    const repo = makeRepo();
    repo.edit('models/pii-scrubber/versions/1.4.2.yaml', /$/, `\ndeprecated: ${deprecated}\n`);
    // Promote 1.4.2 (held by staging) to production.
    repo.edit('environments/production.yaml', 'pii-scrubber: 1.4.1', 'pii-scrubber: 1.4.2');
    return repo;
  }
  const run = (repo: TestRepo) => repo.check();

  it('warns when a deprecated version is promoted, before its sunset', () => {
    const r = run(repoWith('{sunset: 2099-01-01, replacement: 1.4.1}'));
    const d = r.diagnostics.find((x) => x.rule === 'promotion-deprecated');
    expect(d?.severity).toBe('warning');
    expect(d?.file).toBe('environments/production.yaml');
    expect(d?.message).toContain('promote pii-scrubber@1.4.1 instead');
    expect(r.diagnostics.some((x) => x.rule === 'promotion-sunset')).toBe(false);
  });

  it('refuses it after its sunset, naming the replacement', () => {
    const r = run(repoWith('{since: 2019-06-01, sunset: 2020-01-01, replacement: 1.4.1, reason: leaks PII}'));
    const d = r.diagnostics.find((x) => x.rule === 'promotion-sunset');
    expect(d?.severity).toBe('error');
    expect(d?.message).toBe(
      'pii-scrubber@1.4.2 cannot be promoted to production: its sunset was 2020-01-01; promote pii-scrubber@1.4.1 instead',
    );
    expect(r.errors).toBeGreaterThan(0);
  });

  it('validate warns about environments still running a version past its sunset', () => {
    const repo = exampleRepo();
    edit(
      repo,
      'models/intent-classifier/versions/2.0.0.yaml',
      (t) => `${t}\ndeprecated: {sunset: 2020-01-01, replacement: 2.1.0}\n`,
    );
    const ds = validateRegistry(src(repo)).diagnostics.filter((d) => d.rule === 'environment-sunset');
    expect(ds.length).toBeGreaterThan(0);
    expect(ds.every((d) => d.severity === 'warning')).toBe(true);
    expect(ds[0]!.message).toMatch(
      /intent-classifier@2\.0\.0 is past its sunset \(2020-01-01\) and still in \w+ as \w+; move to intent-classifier@2\.1\.0/,
    );
    // A sunset still ahead is no warning.
    edit(repo, 'models/intent-classifier/versions/2.0.0.yaml', (t) => t.replace('2020-01-01', '2099-01-01'));
    expect(validateRegistry(src(repo)).diagnostics.filter((d) => d.rule === 'environment-sunset')).toEqual([]);
  });
});

describe('gateway headers', () => {
  const open: { gw: Gateway; agent: Agent }[] = [];
  afterEach(async () => {
    for (const { gw, agent } of open.splice(0)) {
      agent.destroy();
      await gw.close();
    }
  });

  it('answers from a deprecated version carry Deprecation, Sunset and Link; others carry none', async () => {
    const deprecated = {
      ...demoEntry(M, '2.0.0'),
      deprecation: { since: '2026-01-05', sunset: '2027-01-01', replacement: `${M}@2.1.0` },
    };
    const manifest = demoManifest(
      { [M]: { version: '2.0.0', rollbackWindow: ['1.1.0'] }, 'pii-scrubber': { version: '1.4.2' } },
      { extraVersions: { [M]: { '2.0.0': deprecated } } },
    );
    const gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(demoWeightsDir()),
      log: () => {},
    });
    open.push({ gw, agent: new Agent({ keepAlive: true }) });
    await gw.applyManifest(manifest);
    const { url } = await gw.listen(0, '127.0.0.1');
    const agent = open[0]!.agent;
    const r = await send(agent, 'POST', `${url}/v1/models/${M}/predict`, predictBody(['hello there']));
    expect(r.status).toBe(200);
    expect(r.headers['x-served-version']).toBe('2.0.0');
    expect(r.headers.deprecation).toBe(`@${Date.UTC(2026, 0, 5) / 1000}`);
    expect(r.headers.sunset).toBe('Fri, 01 Jan 2027 00:00:00 GMT');
    expect(r.headers.link).toBe(`</v1/models/${M}?version=2.1.0>; rel="successor-version"`);
    const other = await send(agent, 'POST', `${url}/v1/models/pii-scrubber/predict`, predictBody(['call me']));
    expect(other.status).toBe(200);
    expect(other.headers.deprecation).toBeUndefined();
    expect(other.headers.sunset).toBeUndefined();
    expect(other.headers.link).toBeUndefined();
  });
});
