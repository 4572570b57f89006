import type { AppExecData } from '../../src/shared/events.js';

/** The data of an `app.blocked` event: pupil1's Steam stopped by a hash rule, unless told otherwise. */
export function blockedSteam(over: Partial<AppExecData> = {}): AppExecData {
  return {
    name: 'Steam',
    path: '/usr/games/steam',
    sha256: 'a'.repeat(64),
    signer: 'unknown',
    user: 'pupil1',
    mode: 'enforce',
    reason: 'hash',
    ruleId: null,
    repeats: 0,
    ...over,
  };
}
