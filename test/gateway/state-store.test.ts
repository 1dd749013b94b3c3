// The gateway's state file (rollback records that survive a restart): a damaged or foreign file is a
// UserError naming the file, so `serve` prints one line the operator can act on, not a stack.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../../src/gateway/rollout.ts';
import { UserError } from '../../src/lib/errors.ts';
import { tempDir } from '../helpers.ts';

function stateFile(text: string): string {
  const p = join(tempDir('mg-state-'), 'gateway.state.json');
  writeFileSync(p, text);
  return p;
}

describe('StateStore', () => {
  it('starts empty when the file does not exist yet, and reads back what it saved', () => {
    const p = join(tempDir('mg-state-'), 'gateway.state.json');
    const store = new StateStore(p, 'production');
    expect(store.state).toEqual({ schemaVersion: 1, environment: 'production', rolledBack: {} });
    store.save();
    expect(new StateStore(p, 'production').state).toEqual(store.state);
  });

  it.each([
    [
      'truncated JSON',
      '{"schemaVersion": 1, "environ',
      /gateway\.state\.json: not a gateway state file \(invalid JSON: /,
    ],
    ['JSON null', 'null', /gateway\.state\.json: not a gateway state file \(schemaVersion 1\)/],
    [
      'another schema version',
      '{"schemaVersion": 2, "environment": "production", "rolledBack": {}}',
      /not a gateway state file \(schemaVersion 1\)/,
    ],
    [
      'rolledBack not an object',
      '{"schemaVersion": 1, "environment": "production", "rolledBack": 3}',
      /not a gateway state file/,
    ],
    [
      'another environment',
      '{"schemaVersion": 1, "environment": "staging", "rolledBack": {}}',
      /holds the state of environment "staging", not "production"/,
    ],
  ])('refuses %s with a UserError naming the file', (_, text, message) => {
    const p = stateFile(text);
    let error: unknown;
    try {
      new StateStore(p, 'production');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain(p);
    expect((error as Error).message).toMatch(message);
  });
});
