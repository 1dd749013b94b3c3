// The shape every CLI command has, and argument parsing shared by all of them (node:util parseArgs,
// strict: unknown options are usage errors with exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.ts';

export interface Command {
  usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\nusage: ${usage}`);
  }
}

export const EXIT = { ok: 0, violations: 1, usage: 2 } as const;

/** A command made of subcommands (`keys init`, `manifest verify`): dispatch, help, and the usage error. */
export function subcommands(name: string, usage: string, subs: Record<string, (argv: string[]) => Promise<number>>): Command {
  return {
    usage,
    async run(argv) {
      const [sub, ...rest] = argv;
      const handler = sub === undefined ? undefined : subs[sub];
      if (handler) return handler(rest);
      if (sub === undefined || sub === '--help' || sub === '-h') { console.log(`usage: ${usage}`); return sub === undefined ? EXIT.usage : EXIT.ok; }
      throw new UserError(`unknown ${name} subcommand "${sub}"\nusage: ${usage}`);
    },
  };
}
