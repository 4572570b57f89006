import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/processes.js';

/** Bad command lines for following sign-ins and the device-side AUP commands: a clear error, nothing started. */
describe('vigil agent: sign-in following and aup command lines', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const cases: [string[], number, RegExp][] = [
    [['agent', '--data-dir', dir.path, '--utmp', '/var/run/utmp'], 2, /--utmp needs --follow-sessions/],
    [['agent', '--data-dir', dir.path, '--follow-sessions', '--session-uid', '0'], 2, /--follow-sessions finds the session itself/],
    [['agent', '--data-dir', dir.path, '--follow-sessions', '--utmp', 'relative/utmp'], 2, /not an existing absolute path/],
    [['agent', '--data-dir', dir.path, '--follow-sessions', '--ownership', 'pupil'], 2, /--ownership must be school or byod/],
    [['agent', 'aup'], 2, /expected "status" or "accept"/],
    [['agent', 'aup', 'status', '--data-dir', dir.path], 2, /--user is required/],
    [['agent', 'aup', 'accept', '--data-dir', dir.path, '--user', 'jsmith', '--name', 'Jamie'], 1, /no enrolled agent/],
    [['agent', 'aup', 'accept', '--data-dir', dir.path, '--user', 'jsmith', '--bogus'], 2, /Unknown option '--bogus'/],
  ];
  for (const [args, code, message] of cases) {
    it(`vigil ${args.map((a) => (a === dir.path ? 'DIR' : a)).join(' ')}`, async () => {
      const out = await runCli(args, { VIGIL_SEAT_POLL_MS: '1000' });
      expect(out.code).toBe(code);
      expect(out.stderr).toMatch(message);
      expect(out.stdout).toBe('');
    });
  }
  it('VIGIL_SEAT_POLL_MS is checked', async () => {
    const out = await runCli(['agent', '--data-dir', dir.path, '--follow-sessions'], { VIGIL_SEAT_POLL_MS: '5' });
    expect(out).toMatchObject({ code: 2, stderr: expect.stringMatching(/VIGIL_SEAT_POLL_MS must be/) });
  });
});
