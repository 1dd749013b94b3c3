// Crash points for the crash tests: MG_PUBLISH_CRASH_AT=<step> exits the publishing process abruptly
// at that step, so a test can check what a publish that died there leaves in the store.
import type { PublicationStep } from '../trust/repository.ts';

export type PublishStep =
  | 'after-verify'
  | 'after-claim'
  | PublicationStep
  | 'after-timestamp'
  | 'after-convenience-copy';
export const PUBLISH_STEPS: readonly PublishStep[] = [
  'after-verify',
  'after-claim',
  'target-files-written',
  'snapshot-claimed',
  'targets-written',
  'after-timestamp',
  'after-convenience-copy',
];

/** Exits the process (status 97) when MG_PUBLISH_CRASH_AT names `step`; otherwise does nothing. */
export function crashPoint(step: PublishStep): void {
  if (process.env.MG_PUBLISH_CRASH_AT === step) {
    process.stderr.write(`MG_PUBLISH_CRASH_AT: exiting at ${step}\n`);
    process.exit(97);
  }
}
