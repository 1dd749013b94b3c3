// Shared by the actions: how a step ends when its adapter throws. A user error (a UserError, or local
// I/O a person fixes) fails the step with its message alone; anything else is a bug: the step fails
// with the stack, and the bug exit code of the CLI.
import * as core from '@actions/core';
import { asUserError } from '../../src/lib/errors.ts';
import { EXIT } from '../../src/lib/exit-codes.ts';

/** Fails the step for `e` as the runner shows it: `::error::message`, or `::error::<stack>` for a bug. */
export function failStep(e: unknown): void {
  const user = asUserError(e);
  if (user) {
    core.setFailed(user.message);
    return;
  }
  core.setFailed(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = EXIT.internal;
}

/**
 * Runs an action's entry point and ends the step by failStep when it throws. Called once at the bottom
 * of each main.ts, with no top-level await: the bundle may be loaded as CommonJS.
 */
export function runAction(main: () => Promise<void>): Promise<void> {
  return main().catch(failStep);
}
