// A version inserted between existing ones (2.2.0 between merged 2.1.0 and 2.3.0) is judged on both
// sides: against the version below it, as every new version is, and the next higher merged version must
// still be a valid bump over it, since that is what it now follows. Merged cards cannot change, so a
// refusal lands on the inserted card and names both neighbours.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bumpSummary } from '../../src/review/check.ts';
import { cleanupRepos, errorsOf, fixtureRepo, rules } from './repo.ts';

afterAll(cleanupRepos);

const IC = 'intent-classifier';
const PII = 'pii-scrubber';
// intent-classifier 2.1.0 of test/fixtures/valid-base
const W210 = 'cfef9fc33911819077685266717cc67351d887c51285183fcc1ead6f2cf573e2';
const D210 = '1f8cde391478e56439948fd138eb8b13a2fed5ed433833d6a3311916db2418f9';
const PARENT_200 = 'parent: intent-classifier@2.0.0';
const LABELS = 'labels: [greet, order, cancel_order, other]';
// pii-scrubber 1.4.1 and 1.4.2
const W141 = 'aca85ab570ce16adc303df145d41a2d3e947aa0b1c1643d887646d471076c7cb';
const W142 = 'a4d29bb7ba28b6626985e5c651f56cc4a089bbd40217fdda5bcc6d63e3c536a8';

/** The fixture with intent-classifier 2.3.0 merged: new data and weights over 2.1.0. */
function withMerged230() {
  const repo = fixtureRepo();
  repo.copyVersion(IC, '2.1.0', '2.3.0', [
    [W210, 'b3'.repeat(32)],
    [D210, 'd3'.repeat(32)],
    [PARENT_200, 'parent: intent-classifier@2.1.0'],
  ]);
  repo.commitBase();
  return repo;
}

describe('a version inserted between existing ones', { timeout: 30_000 }, () => {
  it('accepts an insert that is a valid bump over 2.1.0 and keeps 2.3.0 a valid bump over it', () => {
    const repo = withMerged230();
    repo.copyVersion(IC, '2.1.0', '2.2.0', [
      [W210, 'b2'.repeat(32)],
      [D210, 'd2'.repeat(32)],
      [PARENT_200, 'parent: intent-classifier@2.1.0'],
    ]);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    const v = r.semver.find((x) => x.version === '2.2.0')!;
    expect(v).toMatchObject({ previous: '2.1.0', actual: 'minor', required: 'minor', ok: true });
    expect(v.next).toMatchObject({ version: '2.3.0', actual: 'minor', required: 'minor', ok: true });
    expect(v.next!.rows.map((x) => x.field)).toEqual(['lineage.datasets', 'artifacts']);
    expect(bumpSummary(v)).toBe('minor over 2.1.0, needs minor; 2.3.0 over it: minor, needs minor');
  });

  it('refuses an insert that would make merged 2.3.0 an invalid bump, at the insert, naming both neighbours', () => {
    const repo = withMerged230();
    // 2.2.0 adds a label 2.3.0 does not have: fine over 2.1.0 (minor), but 2.3.0 would drop it (major).
    const file = repo.copyVersion(IC, '2.1.0', '2.2.0', [
      [W210, 'b2'.repeat(32)],
      [D210, 'd2'.repeat(32)],
      [LABELS, 'labels: [greet, order, cancel_order, refund, other]'],
    ]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-insert']);
    const d = errorsOf(r)[0]!;
    expect(d).toMatchObject({ file, field: 'version', line: repo.lineOf(file, 'version: 2.2.0') });
    expect(d.message).toContain(
      'intent-classifier 2.2.0 is inserted between 2.1.0 and 2.3.0, and merged 2.3.0 would then be a minor bump over 2.2.0, but what 2.3.0 changes relative to 2.2.0 needs a major bump',
    );
    expect(d.message).toMatch(/interface\.outputs\.label\.labels\s+label "refund" removed\s+major/);
    const v = r.semver.find((x) => x.version === '2.2.0')!;
    expect(v).toMatchObject({ previous: '2.1.0', actual: 'minor', required: 'minor', ok: false });
    expect(v.next).toMatchObject({ version: '2.3.0', actual: 'minor', required: 'major', ok: false });
    expect(bumpSummary(v)).toBe('minor over 2.1.0, needs minor; 2.3.0 over it: minor, needs major (too small)');
  });

  it('judges an insert below the lowest version by what the lowest one becomes over it', () => {
    const repo = fixtureRepo();
    // pii-scrubber starts at 1.4.1; a 1.4.0 with an extra label would make 1.4.1 a patch that drops a label.
    const bad = repo.copyVersion(PII, '1.4.1', '1.4.0', [
      [W141, 'c0'.repeat(32)],
      ['labels: [O, EMAIL, PHONE, NAME]', 'labels: [O, EMAIL, PHONE, NAME, ADDRESS]'],
    ]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-insert']);
    expect(errorsOf(r)[0]).toMatchObject({ file: bad, field: 'version' });
    expect(errorsOf(r)[0]!.message).toContain(
      'pii-scrubber 1.4.0 is inserted below 1.4.1, the lowest version, and merged 1.4.1 would then be a patch bump over 1.4.0, but what 1.4.1 changes relative to 1.4.0 needs a major bump',
    );
    expect(r.semver[0]).toMatchObject({ version: '1.4.0', previous: null, ok: false });
    // 1.3.0 with other weights: 1.4.1 is a minor over it and changes only weights.
    repo.copyVersion(PII, '1.4.1', '1.3.0', [[W141, 'c3'.repeat(32)]]);
    execFileSync('rm', [join(repo.dir, bad)]);
    const ok = repo.check();
    expect(errorsOf(ok)).toEqual([]);
    expect(ok.semver[0]).toMatchObject({ version: '1.3.0', previous: null, ok: true });
    expect(ok.semver[0]!.next).toMatchObject({ version: '1.4.1', actual: 'minor', required: 'patch', ok: true });
  });

  it('a patch between two patches: other weights pass, a copy of the higher patch is refused', () => {
    const repo = fixtureRepo();
    repo.copyVersion(PII, '1.4.2', '1.4.4', [
      [W142, 'e4'.repeat(32)],
      ['parent: pii-scrubber@1.4.1', 'parent: pii-scrubber@1.4.2'],
    ]);
    repo.commitBase();
    const file = repo.copyVersion(PII, '1.4.2', '1.4.3', [
      [W142, 'e3'.repeat(32)],
      ['parent: pii-scrubber@1.4.1', 'parent: pii-scrubber@1.4.2'],
    ]);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver[0]).toMatchObject({ version: '1.4.3', previous: '1.4.2', actual: 'patch', ok: true });
    expect(r.semver[0]!.next).toMatchObject({ version: '1.4.4', actual: 'patch', required: 'patch', ok: true });
    // The same 1.4.3 with 1.4.4's weights: a fine patch over 1.4.2, but 1.4.4 would become its duplicate.
    writeFileSync(
      join(repo.dir, file),
      readFileSync(join(repo.dir, file), 'utf8').replace('e3'.repeat(32), 'e4'.repeat(32)),
    );
    const dup = repo.check();
    expect(rules(dup)).toEqual(['semver-insert']);
    expect(errorsOf(dup)[0]).toMatchObject({ file, field: 'version' });
    expect(errorsOf(dup)[0]!.message).toContain(
      'pii-scrubber 1.4.3 is inserted between 1.4.2 and 1.4.4, but it is a copy of merged 1.4.4 (same artifacts, interface, architecture and lineage), so 1.4.4 would be a duplicate of it',
    );
    expect(dup.semver[0]!.next).toMatchObject({ version: '1.4.4', actual: 'patch', required: 'none', ok: false });
  });

  it('two inserts in one change form a chain: the upper one is judged against merged 2.3.0', () => {
    const repo = withMerged230();
    // 2.2.0 adds "refund" (a minor over 2.1.0), 2.2.1 keeps it with new weights (a patch over 2.2.0):
    // then merged 2.3.0, which has no "refund", follows 2.2.1 and would drop a label in a minor bump.
    const refund: [string, string] = [LABELS, 'labels: [greet, order, cancel_order, refund, other]'];
    repo.copyVersion(IC, '2.1.0', '2.2.0', [[W210, 'b2'.repeat(32)], [D210, 'd2'.repeat(32)], refund]);
    const upper = repo.copyVersion(IC, '2.1.0', '2.2.1', [[W210, 'b4'.repeat(32)], [D210, 'd2'.repeat(32)], refund]);
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.file])).toEqual([['semver-insert', upper]]);
    expect(errorsOf(r)[0]!.message).toContain('intent-classifier 2.2.1 is inserted between 2.2.0 and 2.3.0');
    expect(r.semver.map((v) => [v.version, v.previous, v.ok, v.next?.version])).toEqual([
      ['2.2.0', '2.1.0', true, undefined],
      ['2.2.1', '2.2.0', false, '2.3.0'],
    ]);
  });
});
