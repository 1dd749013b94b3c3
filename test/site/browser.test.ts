// The site in a real browser: Debian's chromium driven by playwright-core, over file:// and over a local
// static HTTP server (as GitHub Pages serves it). Every page type of the example fleet (with history,
// a hostile card and a benchmark report) and of a generated 200-model registry: no console errors, no
// failed requests, every internal link resolves, charts carry the right number of points, the search
// finds a model, axe-core finds no serious violation. Screenshots go to test-artifacts/site/.
// Without /usr/bin/chromium the suite is skipped locally and fails in CI (CI=true).
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/benchmark/report.ts';
import { artifactDigest } from '../../src/registry/artifact-digest.ts';
import { buildSite } from '../../src/site/build.ts';
import { reportKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { HOSTILE, fleetWithHistory, generatedRepo } from './registries.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
const SHOTS = join(ROOT, 'test-artifacts', 'site');
const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

if (!HAVE_CHROMIUM && !IN_CI)
  console.warn(`site browser tests skipped: ${CHROMIUM} is not installed (apt-get install chromium); CI runs them`);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A static file server over `root` (what GitHub Pages does): 404 for anything not a file under it. */
function serve(root: string): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }),
    ),
  );
}

interface Visit {
  errors: string[];
  links: string[];
}

/** Opens `url`; everything that went wrong on the way (console errors, page errors, failed or 4xx/5xx requests). */
async function visit(page: Page, url: string): Promise<Visit> {
  const errors: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  };
  const onPageError = (e: Error) => errors.push(`page error: ${e.message}`);
  const onFailed = (r: { url(): string; failure(): { errorText: string } | null }) =>
    errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  const onResponse = (r: { url(): string; status(): number }) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  };
  page.on('console', onConsole);
  page.on('pageerror', onPageError);
  page.on('requestfailed', onFailed);
  page.on('response', onResponse);
  try {
    const res = await page.goto(url, { waitUntil: 'load' });
    if (res && res.status() >= 400) errors.push(`HTTP ${res.status()}: ${url}`);
    // Links as the browser resolved them.
    // Links as the browser resolves them (SVG <a> has no string .href: resolve the attribute).
    const links = await page.$$eval('a[href], link[href], script[src]', (els) =>
      els.map((e) => {
        const el = e as unknown as { getAttribute(n: string): string | null; ownerDocument: { baseURI: string } };
        return new URL(el.getAttribute('href') ?? el.getAttribute('src') ?? '', el.ownerDocument.baseURI).href;
      }),
    );
    return { errors, links };
  } finally {
    page.off('console', onConsole);
    page.off('pageerror', onPageError);
    page.off('requestfailed', onFailed);
    page.off('response', onResponse);
  }
}

async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE); // evaluated through the DevTools protocol: the page's CSP does not apply
  const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as {
    violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every chart on the page: its declared point count and the points drawn. */
function charts(page: Page): Promise<{ id: string; kind: string; declared: number; drawn: number; width: number }[]> {
  return page.$$eval('figure.chart', (figs) =>
    figs.map((f) => {
      const el = f as unknown as {
        id: string;
        dataset: Record<string, string>;
        querySelectorAll(s: string): { length: number };
        querySelector(s: string): { getBoundingClientRect(): { width: number } } | null;
      };
      return {
        id: el.id,
        kind: el.dataset.chart!,
        declared: Number(el.dataset.points),
        drawn: el.querySelectorAll('circle.point, rect.bar').length,
        width: el.querySelector('svg')?.getBoundingClientRect().width ?? 0,
      };
    }),
  );
}

/** Whether an internal link resolves: the file exists (file://) or the server answers 200 (http). */
async function resolves(page: Page, link: string): Promise<boolean> {
  const u = new URL(link);
  u.hash = '';
  u.search = '';
  if (u.protocol === 'file:') return existsSync(fileURLToPath(u)) && statSync(fileURLToPath(u)).isFile();
  const r = await page.request.get(u.href);
  return r.status() === 200;
}

function reportFor(model: string, version: string, card: { artifacts: { sha256: string }[] }) {
  return buildReport(
    {
      model,
      version,
      artifactDigest: artifactDigest(card),
      champion: { version: '2.0.0', artifactDigest: `sha256:${'b'.repeat(64)}`, selectedAs: 'production' },
      testbed: { name: 'gpu', gpu: 'NVIDIA L4', driver: '550', cuda: '12.4', runner: null, cpu: 'x86_64' },
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
        verdict: 'pass',
        reasons: [],
        comparisons: [
          {
            metric: 'latency_p50_ms',
            kind: 'regression',
            better: 'lower',
            champion: { median: 10, n: 3 },
            challenger: { median: 9, n: 3 },
            ratio: 0.9,
            allowed: '10%',
            verdict: 'pass',
            reason: 'ratio 0.900',
          },
          {
            metric: 'throughput',
            kind: 'regression',
            better: 'higher',
            champion: { median: 100, n: 3 },
            challenger: { median: 104, n: 3 },
            ratio: 1.04,
            allowed: '5%',
            verdict: 'pass',
            reason: 'ratio 1.040',
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
}

const suite = HAVE_CHROMIUM || IN_CI ? describe : describe.skip;

suite('the site in chromium', () => {
  let context: BrowserContext;
  let page: Page;
  const sites: Record<'fleet' | 'large', { out: string; http: string; server: Server }> = {} as never;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM)
      throw new Error(`CI=true and ${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    mkdirSync(SHOTS, { recursive: true });
    const fleetRepo = fleetWithHistory({ hostile: true });
    const store = openStore(join(tempDir('mg-site-store-'), 'store'));
    const card = parseYaml(readFileSync(join(fleetRepo, 'models/intent-classifier/versions/2.1.0.yaml'), 'utf8'));
    await store.putObject(
      reportKey('intent-classifier', '2.1.0', 'gpu'),
      JSON.stringify(reportFor('intent-classifier', '2.1.0', card)),
    );
    const fleetOut = join(tempDir('mg-site-browser-'), 'site');
    await buildSite({ repo: fleetRepo, out: fleetOut, store });
    const largeOut = join(tempDir('mg-site-browser-'), 'site');
    await buildSite({ repo: generatedRepo(200, 3), out: largeOut });
    for (const [name, out] of [
      ['fleet', fleetOut],
      ['large', largeOut],
    ] as const) {
      const { server, base } = await serve(out);
      sites[name] = { out, http: base, server };
    }
    context = await chromium.launchPersistentContext(tempDir('mg-chromium-profile-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    for (const s of Object.values(sites)) s.server.close();
  });

  const bases = (name: 'fleet' | 'large') =>
    [
      ['file', `${pathToFileURL(sites[name].out).href}/`],
      ['http', sites[name].http],
    ] as const;

  it.each(['file', 'http'] as const)(
    'fleet over %s: every page reachable from the index loads cleanly and every link resolves',
    async (scheme) => {
      const base = bases('fleet').find(([s]) => s === scheme)![1];
      const queue = [`${base}index.html`];
      const seen = new Set<string>();
      const problems: string[] = [];
      const fragments: [string, string, string][] = [];
      while (queue.length) {
        const url = queue.shift()!;
        if (seen.has(url)) continue;
        seen.add(url);
        const v = await visit(page, url);
        problems.push(...v.errors.map((e) => `${url}: ${e}`));
        for (const l of v.links) {
          if (!l.startsWith(base)) continue; // external (GitHub links): not fetched
          const u = new URL(l);
          if (u.hash)
            fragments.push([
              url,
              `${u.origin === 'null' ? 'file://' : u.origin}${u.pathname}`,
              decodeURIComponent(u.hash.slice(1)),
            ]);
          if (!(await resolves(page, l))) problems.push(`${url}: link ${l} does not resolve`);
          u.hash = '';
          if (u.pathname.endsWith('.html') && !seen.has(u.href)) queue.push(u.href);
        }
      }
      for (const [from, target, id] of fragments) {
        await page.goto(target);
        if ((await page.locator(`[id="${id}"]`).count()) !== 1) problems.push(`${from}: #${id} missing in ${target}`);
      }
      expect(problems).toEqual([]);
      expect(seen.size).toBe(16 + 0); // index, 3 models, 9 versions, 3 environments
    },
    120_000,
  );

  it.each(['file', 'http'] as const)(
    '200-model site over %s: each page type loads cleanly, its links resolve',
    async (scheme) => {
      const base = bases('large').find(([s]) => s === scheme)![1];
      const problems: string[] = [];
      for (const p of [
        'index.html',
        'models/model-0123/index.html',
        'models/model-0123/1.2.0.html',
        'environments/dev.html',
        'environments/staging.html',
        'environments/production.html',
      ]) {
        const v = await visit(page, base + p);
        problems.push(...v.errors.map((e) => `${p}: ${e}`));
        const internal = [...new Set(v.links.filter((l) => l.startsWith(base)))];
        expect(internal.length, p).toBeGreaterThan(2);
        for (const l of internal) if (!(await resolves(page, l))) problems.push(`${p}: link ${l} does not resolve`);
      }
      expect(problems).toEqual([]);
    },
    120_000,
  );

  it('charts: one point per version on the model page, two bars per compared metric on the version page', async () => {
    const base = sites.fleet.http;
    await visit(page, `${base}models/intent-classifier/index.html`);
    const model = await charts(page);
    expect(model.map((c) => [c.id, c.kind, c.drawn])).toEqual([
      ['metric-0', 'line', 4],
      ['metric-1', 'line', 4],
    ]);
    for (const c of model) expect(c.width).toBeGreaterThan(100);
    expect(await page.locator('figure.lineage a.node.version').count()).toBe(4);
    await page.screenshot({ path: join(SHOTS, 'fleet-model-intent-classifier.png'), fullPage: true });

    await visit(page, `${base}models/intent-classifier/2.1.0.html`);
    const version = await charts(page);
    expect(version.map((c) => [c.kind, c.declared, c.drawn])).toEqual([['bar', 4, 4]]);
    await expect(page.locator('li.check[data-status="pass"] >> text=Benchmark evidence').count()).resolves.toBe(1);
    await page.screenshot({ path: join(SHOTS, 'fleet-version-intent-classifier-2.1.0.png'), fullPage: true });

    await visit(page, `${sites.large.http}models/model-0007/index.html`);
    const large = await charts(page);
    expect(large.map((c) => c.drawn)).toEqual([3, 3]);
    for (const c of large) expect(c.declared).toBe(c.drawn);
  });

  it.each(['file', 'http'] as const)('search over %s finds a model and says when nothing matches', async (scheme) => {
    const fleet = bases('fleet').find(([s]) => s === scheme)![1];
    await visit(page, `${fleet}index.html`);
    await page.fill('#model-search', 'pii');
    expect(await page.locator('#models tbody tr:visible').allInnerTexts()).toEqual([
      expect.stringMatching(/^pii-scrubber\t/),
    ]);
    await expect(page.locator('#search-status').innerText()).resolves.toBe('1 of 3 model(s) match');
    await page.fill('#model-search', 'no-such-model');
    expect(await page.locator('#models tbody tr:visible').count()).toBe(0);
    expect(await page.locator('#no-match').isVisible()).toBe(true);

    const large = bases('large').find(([s]) => s === scheme)![1];
    await visit(page, `${large}index.html`);
    expect(await page.locator('#models tbody tr').count()).toBe(200);
    await page.fill('#model-search', 'model-0123');
    expect(await page.locator('#models tbody tr:visible th a').allInnerTexts()).toEqual(['model-0123']);
    await page.fill('#model-search', 'model-01');
    expect(await page.locator('#models tbody tr:visible').count()).toBe(100);
    await page.screenshot({ path: join(SHOTS, `large-index-search-${scheme}.png`), fullPage: false });
    await page.locator('#models tbody tr:visible th a').first().click();
    await page.waitForLoadState('load');
    expect(new URL(page.url()).pathname).toMatch(/models\/model-0100\/index\.html$/);
  });

  it('a hostile card shows its text and runs nothing', async () => {
    const v = await visit(page, `${sites.fleet.http}models/pii-scrubber/1.5.0.html`);
    expect(v.errors).toEqual([]);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('main p.lede').innerText()).toBe(HOSTILE.summary);
    expect(await page.locator(`a[href^="javascript:"]`).count()).toBe(0);
    await visit(page, `${sites.fleet.http}models/pii-scrubber/index.html`);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it.each([
    ['fleet', 'index.html'],
    ['fleet', 'models/intent-classifier/index.html'],
    ['fleet', 'models/intent-classifier/2.0.0.html'],
    ['fleet', 'models/intent-classifier/2.1.0.html'],
    ['fleet', 'environments/production.html'],
    ['large', 'index.html'],
    ['large', 'models/model-0123/index.html'],
    ['large', 'models/model-0123/1.2.0.html'],
    ['large', 'environments/staging.html'],
  ] as const)('axe-core: no serious violation on %s %s (screenshot saved)', async (site, p) => {
    const v = await visit(page, sites[site].http + p);
    expect(v.errors).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({
      path: join(SHOTS, `${site}-${p.replace(/\//g, '_').replace(/\.html$/, '')}.png`),
      fullPage: true,
    });
  });
});
