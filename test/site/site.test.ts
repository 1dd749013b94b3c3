// `model-gitops site` built from real git repositories: the example fleet with a promotion history,
// a hostile card, a generated 200-model registry, and a real store (published manifests, pushed
// weights, a benchmark report). Pages are checked as files: what they say, their links, their charts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/benchmark/report.ts';
import { artifactDigest } from '../../src/registry/artifact-digest.ts';
import { reportKey } from '../../src/store/keys.ts';
import { buildSite, SITE_MARKER } from '../../src/site/build.ts';
import { loadRegistryFast } from '../../src/site/parallel-load.ts';
import { DiagnosticSink } from '../../src/registry/diagnostics.ts';
import { loadRegistry } from '../../src/registry/load.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/registry/yaml-file.ts';
import { esc } from '../../src/site/html.ts';
import { pullRequestOf } from '../../src/site/git-history.ts';
import { ROOT, runCli, tempDir } from '../helpers.ts';
import { cli, makeFixture } from '../publish/helpers.ts';
import { brokenLinks, sitePages } from './links.ts';
import { HOSTILE, fleetWithHistory, generatedRepo, gitIn } from './registries.ts';

const read = (out: string, p: string) => readFileSync(join(out, p), 'utf8');
/** Text of a page with tags removed and whitespace collapsed (what a reader sees, roughly). */
const textOf = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ');
const section = (html: string, id: string) => {
  const at = html.indexOf(`id="${id}"`);
  expect(at, `section ${id}`).toBeGreaterThan(-1);
  const end = html.indexOf('</section>', at);
  return html.slice(at, end);
};
const checkOf = (html: string, name: string) => {
  const m = new RegExp(`<li class="check (\\w+)"[^>]*>(?:(?!</li>).)*?<strong>${name}</strong>(.*?)</li>`, 's').exec(
    html,
  );
  expect(m, `check "${name}"`).not.toBeNull();
  return { status: m![1]!, text: textOf(m![2]!) };
};

describe('site from the example fleet with history', () => {
  let repo: string;
  let out: string;
  beforeAll(async () => {
    repo = fleetWithHistory({ hostile: true });
    out = join(tempDir('mg-site-out-'), 'site');
    const r = await buildSite({ repo, out, repoUrl: 'https://github.com/acme/registry' });
    expect(r.problems).toBe(0);
    expect(r.pages).toEqual({ index: 1, model: 3, version: 9, environment: 3, total: 16 });
  });

  it('writes every page type, the assets and the marker, nothing else', () => {
    expect(sitePages(out)).toEqual([
      'environments/dev.html',
      'environments/production.html',
      'environments/staging.html',
      'index.html',
      'models/intent-classifier/1.0.0.html',
      'models/intent-classifier/1.1.0.html',
      'models/intent-classifier/2.0.0.html',
      'models/intent-classifier/2.1.0.html',
      'models/intent-classifier/index.html',
      'models/pii-scrubber/1.4.1.html',
      'models/pii-scrubber/1.4.2.html',
      'models/pii-scrubber/1.5.0.html',
      'models/pii-scrubber/index.html',
      'models/structured-extractor/1.0.0.html',
      'models/structured-extractor/1.1.0.html',
      'models/structured-extractor/index.html',
    ]);
    expect(readdirSync(join(out, 'assets')).sort()).toEqual(['favicon.svg', 'search.js', 'site.css']);
    expect(read(out, SITE_MARKER).trim()).toBe(gitIn(repo)('rev-parse', 'HEAD'));
  });

  it('every internal link and fragment resolves', () => {
    const { broken, checked } = brokenLinks(out);
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('pages load nothing from elsewhere and carry a strict CSP without inline script or style', () => {
    for (const p of sitePages(out)) {
      const html = read(out, p);
      expect(html).toContain(`content="default-src 'none'; script-src 'self'; style-src 'self'`);
      expect(html, p).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // every script is a file
      expect(html, p).not.toMatch(/<style|<[^>]*\s(?:style|on[a-z]+)=/);
      expect(html, p).not.toMatch(/<(?:script|link|img)[^>]+(?:src|href)="(?:[a-z]+:|\/\/)/);
    }
  });

  it('index: every model, where each version runs, canary weight and pending promotion badges', () => {
    const html = read(out, 'index.html');
    const row = /<tr data-search="intent-classifier[^"]*">(.*?)<\/tr>/s.exec(html)![1]!;
    expect(textOf(row)).toContain('canary 2.1.0 · 5%');
    // dev and staging run 2.1.0, production 2.0.0: 2.1.0 waits for production.
    expect(textOf(row)).toContain('2.1.0 pending production');
    expect(html.match(/<tr data-search=/g)).toHaveLength(3);
    expect(html).toContain('id="model-search"');
  });

  it('model page: timeline per environment from git, with who merged which pull request', () => {
    const html = read(out, 'models/intent-classifier/index.html');
    const prod = /<ol class="timeline" data-environment="production">(.*?)<\/ol>/s.exec(html)![1]!;
    const items = [...prod.matchAll(/<li data-role="(\w+)">(.*?)<\/li>/gs)].map((m) => `${m[1]}: ${textOf(m[2]!)}`);
    expect(items).toHaveLength(3);
    expect(items[0]).toMatch(
      /^canary: .*canary 2\.1\.0 at 5% .*Merge pull request #13 .*merged by Dee from pull request #13/,
    );
    expect(items[1]).toMatch(
      /^champion: .*1\.1\.0 → 2\.0\.0 .*merged by Dee from pull request #12 ?, proposed by Bo; reviewed by Cy <cy@example.com>/,
    );
    expect(items[2]).toMatch(/^champion: .*added at 1\.1\.0 .*committed directly by Ana \(no pull request\)/);
    expect(prod).toContain('href="https://github.com/acme/registry/pull/12"');
  });

  it('model page: one chart point per version with the metric, and the lineage graph', () => {
    const html = read(out, 'models/intent-classifier/index.html');
    const accuracy = /<figure class="chart" data-chart="line" data-points="(\d+)" id="metric-0">(.*?)<\/figure>/s.exec(
      html,
    )!;
    expect(accuracy[2]).toContain('<figcaption>accuracy</figcaption>');
    const points = [...accuracy[2]!.matchAll(/<circle class="point"[^>]*data-label="([^"]+)"/g)].map((m) => m[1]);
    expect(points).toEqual(['1.0.0', '1.1.0', '2.0.0', '2.1.0']);
    expect(accuracy[1]).toBe('4');
    const lineage = /<figure class="lineage" data-nodes="(\d+)" data-edges="(\d+)"/.exec(html)!;
    // 4 versions + their datasets; parent links 1.0.0 -> 1.1.0 -> 2.0.0 -> 2.1.0.
    const datasets = new Set([...html.matchAll(/class="node dataset" data-node="([^"]+)"/g)].map((m) => m[1]));
    expect(Number(lineage[1])).toBe(4 + datasets.size);
    expect(Number(lineage[2])).toBeGreaterThanOrEqual(3 + datasets.size);
    expect(html).toMatch(/<a class="node version current" href="\.\.\/\.\.\/models\/intent-classifier\/2\.0\.0\.html"/);
  });

  it('version page: why 2.0.0 is allowed in production, with the proof from git', () => {
    const html = read(out, 'models/intent-classifier/2.0.0.html');
    expect(html).toContain('Why it is allowed in production');
    expect(checkOf(html, 'The card is valid on main').status).toBe('pass');
    const held = checkOf(html, 'Held in staging first');
    expect(held.status).toBe('pass');
    const approved = checkOf(html, 'Approved by pull request');
    expect(approved.status).toBe('pass');
    expect(approved.text).toMatch(/merged by Dee from pull request #12 ?, proposed by Bo; reviewed by Cy/);
    expect(textOf(html)).toMatch(/3 of 5 checks passed ?, 2 not known from here\./);
    // Without --store nothing about the store is claimed.
    expect(checkOf(html, 'Benchmark evidence').status).toBe('unknown');
    expect(checkOf(html, 'Artifacts in the store').status).toBe('unknown');
  });

  it('version page: a version committed straight to production fails the pull-request check', () => {
    const html = read(out, 'models/pii-scrubber/1.4.1.html');
    const approved = checkOf(html, 'Approved by pull request');
    expect(approved.status).toBe('fail');
    expect(approved.text).toContain('committed directly by Ana');
  });

  it('version page: the card rendered, with the training commit, artifacts, sizes and the source', () => {
    const html = read(out, 'models/intent-classifier/2.1.0.html');
    expect(html).toContain(
      'href="https://github.com/acme/slm-training/commit/d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0"',
    );
    expect(html).toContain('7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180');
    expect(html).toContain('title="37640 bytes">36.8 KiB');
    expect(html).toMatch(
      /href="https:\/\/github\.com\/acme\/registry\/blob\/[0-9a-f]{40}\/models\/intent-classifier\/versions\/2\.1\.0\.yaml"/,
    );
    expect(html).toContain('<a href="../../models/intent-classifier/2.0.0.html">intent-classifier@2.0.0</a>');
    expect(checkOf(html, 'Held in staging first').status).toBe('pass');
    expect(checkOf(html, 'Approved by pull request').text).toContain('pull request #13');
  });

  it('version page: a version outside the final stage shows what production would ask for', () => {
    const html = read(out, 'models/intent-classifier/1.0.0.html');
    expect(html).toContain('What production would ask for');
    expect(checkOf(html, 'In staging').status).toBe('fail');
  });

  it('environment page: rollout, canary weight, rollback window, history', () => {
    const html = read(out, 'environments/production.html');
    const rollout = section(html, 'rollout-h');
    expect(textOf(rollout)).toMatch(/intent-classifier 2\.0\.0 2\.1\.0 5% 1\.1\.0/);
    expect(html.match(/<li data-role=/g)).toHaveLength(5); // 3 adds in the first commit + PR #12 + PR #13
  });

  it('a hostile card stays text: no markup, no script, no javascript: link', () => {
    const html = read(out, 'models/pii-scrubber/1.5.0.html');
    expect(html).toContain(esc(HOSTILE.summary));
    expect(html).not.toContain('<script>window');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain(esc(HOSTILE.uri)); // shown as text
    const index = read(out, 'index.html');
    expect(index).not.toContain('<script>window');
    const model = read(out, 'models/pii-scrubber/index.html');
    expect(model).toContain(esc(HOSTILE.summary));
    expect(model).not.toContain('<b>bold</b>');
  });
});

describe('site output is replaced whole or not at all', () => {
  it('a build that fails half-way leaves the previous site and no temporary folder', async () => {
    const repo = fleetWithHistory();
    const parent = tempDir('mg-site-atomic-');
    const out = join(parent, 'site');
    await buildSite({ repo, out });
    const before = read(out, 'index.html');
    writeFileSync(join(out, 'index.html'), `${before}<!-- first build -->`);
    let pages = 0;
    await expect(
      buildSite({
        repo,
        out,
        onProgress: (p) => {
          if (p.phase === 'pages' && ++pages === 2) throw new Error('disk gave up');
        },
      }),
    ).rejects.toThrow('disk gave up');
    expect(read(out, 'index.html')).toBe(`${before}<!-- first build -->`);
    expect(readdirSync(parent)).toEqual(['site']);
    // A successful build replaces it.
    await buildSite({ repo, out });
    expect(read(out, 'index.html')).toBe(before);
    expect(readdirSync(parent)).toEqual(['site']);
  });

  it('refuses to replace a folder that is not a site, and a repository that is not git', async () => {
    const repo = fleetWithHistory();
    const foreign = tempDir('mg-site-foreign-');
    writeFileSync(join(foreign, 'thesis.tex'), 'keep me');
    await expect(buildSite({ repo, out: foreign })).rejects.toThrow(
      `--out ${foreign} is a non-empty folder that no site build made (it has no ${SITE_MARKER}); refusing to replace it`,
    );
    expect(readFileSync(join(foreign, 'thesis.tex'), 'utf8')).toBe('keep me');
    const plain = tempDir('mg-site-nogit-');
    await expect(buildSite({ repo: plain, out: join(plain, 'site') })).rejects.toThrow(
      `${plain} is not a git repository`,
    );
    await expect(buildSite({ repo, out: dirname(repo) })).rejects.toThrow('would replace the repository itself');
  });
});

describe('history that does not parse', () => {
  it('an environment file that was broken in an old commit is skipped and said so', async () => {
    const repo = fleetWithHistory();
    const git = gitIn(repo);
    const good = readFileSync(join(repo, 'environments/staging.yaml'), 'utf8');
    writeFileSync(join(repo, 'environments/staging.yaml'), 'models: [oops\n');
    git('-c', 'user.name=Ana', '-c', 'user.email=a@example.com', 'commit', '-q', '-am', 'broken');
    writeFileSync(join(repo, 'environments/staging.yaml'), good.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 1.4.1'));
    git('-c', 'user.name=Ana', '-c', 'user.email=a@example.com', 'commit', '-q', '-am', 'fixed');
    const out = join(tempDir('mg-site-broken-'), 'site');
    await buildSite({ repo, out });
    const html = read(out, 'environments/staging.html');
    expect(html).toContain('1 earlier version(s) of environments/staging.yaml did not parse; the history skips them.');
    // The change across the broken commit is still one event: 1.4.2 -> 1.4.1.
    expect(textOf(section(html, 'hist-h'))).toMatch(/pii-scrubber 1\.4\.2 → 1\.4\.1 .* fixed/);
  });
});

describe('site from a generated 200-model registry', () => {
  it('has one page per model and version, resolvable links and three points per metric chart', async () => {
    const repo = generatedRepo(200, 3);
    const out = join(tempDir('mg-site-gen-out-'), 'site');
    const r = await buildSite({ repo, out });
    expect(r.pages).toEqual({ index: 1, model: 200, version: 600, environment: 3, total: 804 });
    expect(sitePages(out)).toHaveLength(804);
    const { broken, checked } = brokenLinks(out);
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(5000);
    const html = read(out, 'models/model-0123/index.html');
    for (const m of html.matchAll(/data-chart="line" data-points="(\d+)"/g)) expect(m[1]).toBe('3');
    expect([...html.matchAll(/<circle class="point"/g)]).toHaveLength(3 * 2); // accuracy, macro_f1
    expect(read(out, 'index.html').match(/<tr data-search=/g)).toHaveLength(200);
  });
});

describe('site with a store: benchmark evidence, artifacts and publications', () => {
  it('proves a production version with its report digest, the store and the signed manifest', async () => {
    const fx = await makeFixture('folder', 'site');
    const publish = (c: string) =>
      cli(['publish', '--store', fx.storeUrl, '--repo', fx.repo, '--keys-dir', fx.keysDir, '--commit', c, '--json']);
    const first = await publish(fx.head());
    expect(first.status, first.stderr).toBe(0);
    fx.commitEdit(
      'environments/production.yaml',
      'weight: 5%',
      'weight: 10%',
      'Merge pull request #21 from acme/canary-10',
    );
    const second = await publish(fx.head());
    expect(second.status, second.stderr).toBe(0);

    // A passing report for the canary's bytes, and a failing one for the champion's on another testbed.
    const card = (v: string) =>
      parseYaml(readFileSync(join(fx.repo, `models/intent-classifier/versions/${v}.yaml`), 'utf8')) as {
        artifacts: { sha256: string }[];
      };
    const c210 = card('2.1.0');
    const report = (version: string, digest: string, verdict: 'pass' | 'fail', testbed: string) =>
      buildReport(
        {
          model: 'intent-classifier',
          version,
          artifactDigest: digest,
          champion: { version: '2.0.0', artifactDigest: artifactDigest(c210), selectedAs: 'production' },
          testbed: { name: testbed, gpu: 'NVIDIA L4', driver: '550', cuda: '12.4', runner: 'gpu-1', cpu: 'x86_64' },
          workload: {
            goldenSet: 'g.jsonl',
            goldenSetSha256: 'a'.repeat(64),
            batchSizes: [1],
            warmup: 1,
            seed: 7,
            runs: 3,
            command: 'x',
          },
          records: [],
          decision: {
            verdict,
            reasons: [`${verdict} on purpose`],
            comparisons: [
              {
                metric: 'latency_p50_ms',
                kind: 'regression',
                better: 'lower',
                champion: { median: 10, n: 3 },
                challenger: { median: 9, n: 3 },
                ratio: 0.9,
                ci: [0.85, 0.95],
                allowed: '10%',
                verdict,
                reason: 'ratio 0.900',
              },
              {
                metric: 'accuracy',
                kind: 'threshold',
                better: 'higher',
                challenger: { median: 0.99, n: 3 },
                bound: { min: 0.9 },
                verdict: 'pass',
                reason: '0.99 >= 0.9',
              },
            ],
            method: {
              statistic: 'median',
              interval: 'percentile-bootstrap',
              resamples: 1000,
              confidence: 0.95,
              seed: 1,
              minRuns: 3,
            },
          },
        },
        new Map(),
        { champion: '2.0.0', challenger: version },
      );
    const pass = Buffer.from(JSON.stringify(report('2.1.0', artifactDigest(c210), 'pass', 'gpu')));
    await fx.store.putObject(reportKey('intent-classifier', '2.1.0', 'gpu'), pass);
    await fx.store.putObject(
      reportKey('intent-classifier', '2.0.0', 'gpu'),
      JSON.stringify(report('2.0.0', artifactDigest(card('2.0.0')), 'fail', 'gpu')),
    );
    await fx.store.putObject('reports/intent-classifier/1.1.0/gpu.json', '{"not": "a report"}');

    const out = join(tempDir('mg-site-store-out-'), 'site');
    const r = runCli(['site', '--repo', fx.repo, '--out', out, '--store', fx.storeUrl, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { pages: { total: number }; store: string; bytes: number };
    expect(summary.pages.total).toBe(15);
    expect(summary.bytes).toBeGreaterThan(10_000);

    const html = read(out, 'models/intent-classifier/2.1.0.html');
    const evidence = checkOf(html, 'Benchmark evidence');
    expect(evidence.status).toBe('pass');
    expect(evidence.text).toContain(createHash('sha256').update(pass).digest('hex'));
    expect(checkOf(html, 'Artifacts in the store').status).toBe('pass');
    const published = checkOf(html, 'Published in a signed manifest');
    expect(published.status).toBe('pass');
    expect(published.text).toMatch(/^: sequence 1 /);
    // The report's chart: two bars for the regression check, one for the threshold.
    expect(html).toMatch(/data-chart="bar" data-points="3"/);
    expect(html.match(/<rect class="bar /g)).toHaveLength(3);

    const champion = read(out, 'models/intent-classifier/2.0.0.html');
    const failing = checkOf(champion, 'Benchmark evidence');
    expect(failing.status).toBe('fail');
    expect(failing.text).toContain('reports for these bytes say fail');

    const env = read(out, 'environments/production.html');
    expect(textOf(section(env, 'pub-h'))).toMatch(/sequence 2 .*intent-classifier .*5%.* → .*10%/);
    const model = read(out, 'models/intent-classifier/index.html');
    expect(textOf(model)).toContain('sequence 2');
    expect(brokenLinks(out).broken).toEqual([]);
  });
});

describe('loading a large registry on worker threads', () => {
  it('gives the same registry and diagnostics as one loader, broken files included', async () => {
    const repo = generatedRepo(40, 3);
    writeFileSync(join(repo, 'models/model-0003/versions/1.1.0.yaml'), 'name: model-0003\nversion: [oops\n');
    writeFileSync(
      join(repo, 'models/model-0007/versions/1.0.0.yaml'),
      readFileSync(join(repo, 'models/model-0007/versions/1.0.0.yaml'), 'utf8').replace(
        'version: 1.0.0',
        'version: 1.0.1',
      ),
    );
    const source = new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
    const sink = new DiagnosticSink();
    const one = loadRegistry(source, sink);
    const many = await loadRegistryFast(source, { threads: 3, minFiles: 1 });
    const shape = (r: typeof one) => ({
      models: [...r.models.values()]
        .map((m) => ({ ...m, versions: [...m.versions].sort(([a], [b]) => a.localeCompare(b)) }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      environments: [...r.environments.values()].sort((a, b) => a.name.localeCompare(b.name)),
      broken: [...r.brokenEnvironments].sort(),
      fileCount: r.fileCount,
    });
    expect(shape(many.registry)).toEqual(shape(one));
    expect(many.diagnostics).toEqual(sink.sorted());
    expect(many.diagnostics.map((d) => d.file)).toEqual(
      expect.arrayContaining(['models/model-0003/versions/1.1.0.yaml', 'models/model-0007/versions/1.0.0.yaml']),
    );
    expect(many.registry.models.get('model-0007')!.versions.has('1.0.0')).toBe(false);
  });
});

describe('the Pages workflow', () => {
  it('builds with a read-only token and gives Pages write and OIDC to the deploy job alone', () => {
    const wf = parseYaml(readFileSync(join(ROOT, '.github/workflows/pages.yml'), 'utf8')) as {
      on: { push: { branches: string[] } };
      permissions: Record<string, string>;
      jobs: Record<
        string,
        {
          permissions: Record<string, string>;
          needs?: string;
          steps: { uses?: string; run?: string; with?: Record<string, unknown> }[];
        }
      >;
    };
    expect(wf.on.push.branches).toEqual(['main']);
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(wf.jobs.build!.permissions).toEqual({ contents: 'read' });
    expect(wf.jobs.deploy!.permissions).toEqual({ pages: 'write', 'id-token': 'write' });
    expect(wf.jobs.deploy!.needs).toBe('build');
    expect(
      wf.jobs.deploy!.steps.every((s) => s.run === undefined && !String(s.uses).startsWith('actions/checkout')),
    ).toBe(true);
    const build = wf.jobs.build!.steps;
    expect(build.find((s) => String(s.uses).startsWith('actions/checkout'))?.with?.['fetch-depth']).toBe(0);
    expect(build.some((s) => /model-gitops\.js site --out _site/.test(s.run ?? ''))).toBe(true);
    expect(build.find((s) => String(s.uses).startsWith('actions/upload-pages-artifact'))?.with?.path).toBe('_site');
  });
});

describe('model-gitops site CLI', () => {
  it('needs --out, refuses a bad --repository-url and unknown flags, prints help', () => {
    const repo = fleetWithHistory();
    const noOut = runCli(['site', '--repo', repo]);
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toContain('--out DIR is required');
    const badUrl = runCli([
      'site',
      '--repo',
      repo,
      '--out',
      join(repo, '_site'),
      '--repository-url',
      'javascript:alert(1)',
    ]);
    expect(badUrl.status).toBe(2);
    expect(badUrl.stderr).toContain('--repository-url must be an http(s) address');
    expect(existsSync(join(repo, '_site'))).toBe(false);
    const unknown = runCli(['site', '--out', 'x', '--bogus']);
    expect(unknown.status).toBe(2);
    const help = runCli(['site', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: model-gitops site --out DIR');
  });

  it('builds and prints a summary; the summary counts what is on disk', () => {
    const repo = fleetWithHistory();
    mkdirSync(join(repo, 'public'));
    const r = runCli(['site', '--out', 'public/site'], { cwd: repo });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^site: 15 pages \(3 models, 8 versions, 3 environments\)/);
    expect(sitePages(join(repo, 'public/site'))).toHaveLength(15);
  });

  it('pull request numbers come from merge and squash subjects only', () => {
    expect(pullRequestOf('Merge pull request #12 from acme/x')).toBe(12);
    expect(pullRequestOf('Promote pii-scrubber (#7)')).toBe(7);
    expect(pullRequestOf('Fix #7 in the docs')).toBeUndefined();
    expect(pullRequestOf('Merge branch main')).toBeUndefined();
  });
});
