// model-gitops command line: a thin adapter that parses arguments and calls the core in src/.
import { readFileSync } from 'node:fs';
import { isUserError } from '../errors.ts';
import { setTrustProviderFactory } from '../sync/manifest-provider.ts';
import { tufProviderFactory } from '../trust/sync-provider.ts';
import { checkCommand } from './check.ts';
import type { Command } from './command.ts';
import { keysCommand } from './keys.ts';
import { lsCommand } from './ls.ts';
import { pushCommand } from './push.ts';
import { manifestCommand } from './manifest.ts';
import { historyCommand, publishCommand, resignCommand } from './publish.ts';
import { rollbackCommand } from './rollback.ts';
import { serveCommand } from './serve.ts';
import { statusCommand, syncCommand } from './sync.ts';
import { validateCommand } from './validate.ts';
import { verifyCommand } from './verify.ts';

const COMMANDS: Record<string, Command> = {
  // the registry in git
  validate: validateCommand,
  ls: lsCommand,
  check: checkCommand,
  rollback: rollbackCommand,
  // weights in the store
  push: pushCommand,
  verify: verifyCommand,
  // the signed manifest
  keys: keysCommand,
  publish: publishCommand,
  resign: resignCommand,
  manifest: manifestCommand,
  history: historyCommand,
  // devices and gateways
  sync: syncCommand,
  status: statusCommand,
  serve: serveCommand,
};

// `sync --trust` verifies through TUF.
setTrustProviderFactory(tufProviderFactory);

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
    'exit codes: 0 success, 1 the registry has violations (sync, verify: verification failed; push: the card would be invalid), 2 usage or I/O error, 3 network failure after retries (sync)',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`model-gitops: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (isUserError(e)) {
      console.error(`model-gitops ${name}: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /(?:model-gitops(?:\.js)?|main\.ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { console.error(e); process.exitCode = 70; },
  );
}
