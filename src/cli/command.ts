// The shape every CLI command has, and argument parsing shared by all of them (node:util parseArgs,
// strict: unknown options are usage errors with exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';

export interface Command {
  usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\nusage: ${usage}`);
  }
}

/** A command made of subcommands (`keys init`, `manifest verify`): dispatch, help, and the usage error. */
export function subcommands(
  name: string,
  usage: string,
  subs: Record<string, (argv: string[]) => Promise<number>>,
): Command {
  return {
    usage,
    async run(argv) {
      const [sub, ...rest] = argv;
      const handler = sub === undefined ? undefined : subs[sub];
      if (handler) return handler(rest);
      if (sub === undefined || sub === '--help' || sub === '-h') {
        console.log(`usage: ${usage}`);
        return sub === undefined ? EXIT.usage : EXIT.ok;
      }
      throw new UserError(`unknown ${name} subcommand "${sub}"\nusage: ${usage}`);
    },
  };
}

/**
 * A whole-number flag (`--keep 3`): the one parser every command uses, so every command words the
 * refusal the same way. `undefined` stays undefined (the caller's default applies).
 */
export function intOption(
  name: string,
  value: string | undefined,
  range: { min: number; max?: number },
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < range.min || n > max) {
    const bound = range.max === undefined ? `>= ${range.min}` : `from ${range.min} to ${range.max}`;
    throw new UserError(`--${name} must be a whole number ${bound}, got "${value}"`);
  }
  return n;
}

/** A number flag that may have a fraction (`--interval 0.5`), at least `min`. */
export function numberOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UserError(`--${name} must be a number >= ${min}, got "${value}"`);
  return n;
}
