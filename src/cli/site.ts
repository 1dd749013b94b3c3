// `model-gitops site`: build the registry's static site (thin adapter over src/site/build.ts).
import { resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { formatBytes } from '../lib/format.ts';
import { buildSite } from '../site/build.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson } from './output.ts';
import { ProgressLine } from './progress.ts';
import { openCommandStore } from './trust-common.ts';

const usage = 'model-gitops site --out DIR [--repo DIR] [--ref REF] [--store URL] [--repository-url URL] [--json]';

const help = `usage: ${usage}

Builds a static site of the registry: every model, version and environment, metrics across versions,
the lineage graph, the promotion timeline from git history, and for each version in a final stage
the checks that allow it there. No server and nothing from the network: open DIR/index.html from
disk or publish DIR with GitHub Pages (.github/workflows/pages.yml).

  --out DIR             where the site goes; built beside it and swapped in whole (an existing DIR
                        must be empty or an earlier site)
  --repo DIR            the registry's git clone (default .)
  --ref REF             the commit to show (default HEAD)
  --store URL           also show benchmark reports, publication history and artifact presence
                        from this store (s3://bucket/prefix, file:///path or a folder)
  --repository-url URL  web address for commit, pull request and file links
                        (default: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY, else the origin remote)
  --json                a JSON summary on stdout (pages, bytes, milliseconds)`;

export const siteCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        out: { type: 'string', short: 'o' },
        repo: { type: 'string', default: '.' },
        ref: { type: 'string' },
        store: { type: 'string' },
        'repository-url': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    if (!values.out) throw new UserError(`--out DIR is required\nusage: ${usage}`);
    const url = values['repository-url'];
    if (url !== undefined && !/^https?:\/\/[^\s/]+\/\S*$/.test(url))
      throw new UserError(
        `--repository-url must be an http(s) address such as https://github.com/org/registry, got "${url}"`,
      );
    const repo = resolve(values.repo);
    const bar = new ProgressLine(process.stderr, !values.json);
    const result = await buildSite({
      repo,
      out: values.out,
      ...(values.ref ? { ref: values.ref } : {}),
      ...(values.store ? { store: openCommandStore(values.store, repo) } : {}),
      ...(url ? { repoUrl: url.replace(/\/$/, '') } : {}),
      onProgress: (p) => {
        if (p.phase === 'pages') bar.update({ done: p.done, total: p.total, label: 'pages', bytes: false });
        else if (!bar.enabled && !values.json && p.done === 0)
          console.error(
            `site: ${p.phase === 'collect' ? 'reading the registry and its history' : 'swapping the new site in'}`,
          );
      },
    });
    bar.finish();
    if (values.json) printJson(result);
    else {
      console.log(
        `site: ${result.pages.total} pages (${result.pages.model} models, ${result.pages.version} versions, ${result.pages.environment} environments), ${formatBytes(result.bytes)} in ${result.out} in ${result.ms} ms`,
      );
      if (result.problems)
        console.error(`site: ${result.problems} registry file(s) did not load; run model-gitops validate`);
    }
    return EXIT.ok;
  },
};
