// model-gitops command line: a thin adapter that parses arguments and calls the core in src/.
import { readFileSync } from 'node:fs';
import { asUserError } from '../lib/errors.ts';
import { EXIT, EXIT_CODES_HELP } from '../lib/exit-codes.ts';
import type { Command } from './command.ts';

// Commands load on demand: `validate` should not pay for the AWS SDK, TUF or the gateway at start-up.
interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const COMMANDS: Record<string, CommandEntry> = {
  // the registry in git
  validate: {
    summary: 'check every model card and environment file: schemas, identity, references, dependencies',
    load: async () => (await import('./validate.ts')).validateCommand,
  },
  ls: {
    summary: 'list models, their versions and where each version runs',
    load: async () => (await import('./ls.ts')).lsCommand,
  },
  check: {
    summary: 'compare the registry with a base commit: immutability, semver bumps, deletions, dependencies, promotion',
    load: async () => (await import('./check.ts')).checkCommand,
  },
  rollback: {
    summary: "move a model back to its rollback window's first version (or drop its canary) as a git change",
    load: async () => (await import('./rollback.ts')).rollbackCommand,
  },
  archive: {
    summary: 'take a version out of every environment and rollback window and mark its card archived, as a git change',
    load: async () => (await import('./archive.ts')).archiveCommand,
  },
  audit: {
    summary: 'what ran where at a moment, who changed it and approved it, on which evidence (git history + manifests)',
    load: async () => (await import('./audit.ts')).auditCommand,
  },
  select: {
    summary: 'list the published versions that meet requirements (latency, metrics, size, format), best first',
    load: async () => (await import('./select.ts')).selectCommand,
  },
  site: {
    summary:
      'build a static site of the registry: models, lineage, metrics across versions, promotion timeline, readiness proof',
    load: async () => (await import('./site.ts')).siteCommand,
  },
  evaluate: {
    summary:
      "continuous evaluation: each deployed version's golden set through its harness, compared with its card and past runs; drift; issue on a drop",
    load: async () => (await import('./evaluate.ts')).evaluateCommand,
  },
  drift: {
    summary:
      "compare a version's live output and input distributions (gateway) with its golden-set reference (PSI or Jensen-Shannon)",
    load: async () => (await import('./drift.ts')).driftCommand,
  },
  experiment: {
    summary:
      'experiment report: champion vs challenger on feedback, an always-valid sequential test (mSPRT) with the hypothesis of model.yaml',
    load: async () => (await import('./experiment.ts')).experimentCommand,
  },
  // starting and upgrading a registry
  init: {
    summary:
      'start a registry: environments with a promotion chain, models/, the .gitignore entry of the local workspace',
    load: async () => (await import('./init.ts')).initCommand,
  },
  new: {
    summary: 'add a model: models/MODEL/model.yaml with owners, task, description and a commented benchmark recipe',
    load: async () => (await import('./new.ts')).newCommand,
  },
  upgrade: {
    summary:
      'bring the toolkit (src/, actions/, schemas/, workflows…) from a newer template release; the registry stays as it is',
    load: async () => (await import('./upgrade.ts')).upgradeCommand,
  },
  // weights in the store
  push: {
    summary: 'upload a model folder to the store and write or update its version card',
    load: async () => (await import('./push.ts')).pushCommand,
  },
  verify: {
    summary: "check that the store holds every card's artifacts with the recorded size and sha256",
    load: async () => (await import('./verify.ts')).verifyCommand,
  },
  gc: {
    summary: 'delete store objects nothing retained references (mark and sweep, grace period; dry run unless --delete)',
    load: async () => (await import('./gc.ts')).gcCommand,
  },
  // the signed manifest
  keys: {
    summary:
      'keys init: generate signing keys, initialise the trust (TUF) repository in the store, pin trust/root.json',
    load: async () => (await import('./keys.ts')).keysCommand,
  },
  publish: {
    summary: 'publish the signed manifest: validate, verify every referenced blob, claim a sequence, sign (TUF)',
    load: async () => (await import('./publish.ts')).publishCommand,
  },
  resign: {
    summary: 're-sign the current manifest with fresh expiries (content unchanged); run it daily',
    load: async () => (await import('./publish.ts')).resignCommand,
  },
  manifest: {
    summary: 'manifest verify: fetch the published manifest through TUF from a pinned root and show it',
    load: async () => (await import('./manifest.ts')).manifestCommand,
  },
  history: {
    summary:
      'list every published manifest (manifests/<sequence>.json): when, which commit, what changed per environment',
    load: async () => (await import('./publish.ts')).historyCommand,
  },
  // devices and gateways
  sync: {
    summary: 'make a device run what the manifest says for an environment (delta download, verify, atomic swap)',
    load: async () => (await import('./sync.ts')).syncCommand,
  },
  status: {
    summary: 'show what a synced device runs: active versions, staged downloads, the manifest and its expiry',
    load: async () => (await import('./sync.ts')).statusCommand,
  },
  serve: {
    summary: "serve an environment's models over HTTP with canary routing and automated rollback",
    load: async () => (await import('./serve.ts')).serveCommand,
  },
};

function help(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  return [
    'model-gitops: model weights managed like source code',
    '',
    'usage: model-gitops <command> [options]   (model-gitops <command> --help for its options)',
    '',
    ...names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n]!.summary}`),
    '',
    EXIT_CODES_HELP,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`model-gitops: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (e) {
    // Local I/O failures (ENOSPC, EACCES…) are the usage/I-O exit code for every command, not a crash.
    const userError = asUserError(e);
    if (userError) {
      console.error(`model-gitops ${name}: ${userError.message}`);
      return userError.exitCode;
    }
    throw e;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /(?:model-gitops(?:\.js)?|main\.ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = EXIT.internal;
    },
  );
}
