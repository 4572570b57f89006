import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiptForAcceptance } from '../../src/agent/aup/receipts.js';
import { aupHash } from '../../src/shared/node/aup-verify.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { adminCli, startConsoleProcess, writeJsonFile, type ConsoleHandle } from '../helpers/fleet.js';
import { monitorDoc } from '../helpers/policy-docs.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectWithHello, enrollRawDevice, type RawDevice, type RawSocket } from '../helpers/raw-device.js';

/**
 * AUP variants per group set (issues 13/16): a real console process, two groups whose policies
 * name different AUP variants, one device in each. Every AUP decision about a device (the answer
 * to its `aup.query`, the variants in use, the status report, its summary) is for the variant of
 * the bundle that device is offered, not the baseline's.
 */
describe('AUP variants per group set', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  const devices = {} as Record<'pupil' | 'staff', { raw: RawDevice; socket: RawSocket; aup: any }>;
  const cli = adminCli(() => consoleProc).ok;

  const status = (hostname: string, user: string) => ({
    hostname,
    os: { platform: 'linux', release: '6.1.0', distro: 'Debian GNU/Linux 12', arch: 'x64' },
    user,
    users: [user],
    uptimeSeconds: 60,
    agentVersion: 'test',
    policyVersion: null,
    appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
    collectedAt: new Date().toISOString(),
  });
  const query = async (who: 'pupil' | 'staff', user: string, hash: string) => {
    const { socket } = devices[who];
    socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user, aupHash: hash });
    return socket.next('aup.status', 15_000);
  };
  const accept = async (who: 'pupil' | 'staff', user: string, aup: any, seq: number) => {
    const { raw, socket } = devices[who];
    const receipt = receiptForAcceptance({
      request: { typedName: user, variant: aup.payload.variant, version: aup.payload.version, aupHash: aupHash(aup.payload) },
      aup: aup.payload,
      deviceId: raw.deviceId,
      user,
      key: raw,
    });
    socket.send({
      v: PROTOCOL_VERSION,
      type: 'events',
      events: [{ id: randomUUID(), seq, at: new Date().toISOString(), type: 'aup.accepted', data: { receipt } }],
    });
    await socket.next('events.ack', 15_000);
  };
  const summaryAup = async (who: 'pupil' | 'staff') => (await consoleProc.api(`/api/v1/devices/${devices[who].raw.deviceId}`)).body.device.aup;

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    const raws = { pupil: await enrollRawDevice(consoleProc.url, 'pupil-pc'), staff: await enrollRawDevice(consoleProc.url, 'staff-pc') };
    const file = (name: string, doc: unknown) => writeJsonFile(dir.path, name, doc);
    await cli(['policy', 'push', file('base.json', monitorDoc('School base', 'pupils', [['1', 'block']]))]);
    await cli(['groups', 'create', 'pupils', '--device', raws.pupil.deviceId]);
    await cli(['groups', 'create', 'staff', '--device', raws.staff.deviceId]);
    await cli(['policy', 'push', file('staff.json', monitorDoc('Staff laptops', 'staff', [['2', 'allow']])), '--policy', 'staff']);
    await cli(['policy', 'assign', 'staff', 'staff', '--precedence', '10']);
    for (const variant of ['pupils', 'staff']) {
      const published = await consoleProc.api('/api/v1/aups', {
        method: 'POST',
        body: JSON.stringify({ variant, title: `Rules for ${variant}`, markdown: `Be kind (${variant}).` }),
      });
      expect(published.status).toBe(201);
    }
    for (const who of ['pupil', 'staff'] as const) {
      const socket = await connectWithHello(consoleProc.url, raws[who]);
      // On hello the console sends the AUP of the device's own bundle's variant.
      const aup = (await socket.next('aup', 15_000)).aup;
      socket.send({ v: PROTOCOL_VERSION, type: 'status', status: status(`${who}-pc`, who === 'pupil' ? 'pupil1' : 'teacher1') });
      devices[who] = { raw: raws[who], socket, aup };
    }
  });
  afterAll(async () => {
    for (const d of Object.values(devices)) d.socket.ws.close();
    await stopAll();
    dir?.remove();
  });

  it('each device is sent, and asked about, the AUP of its own variant', async () => {
    expect(devices.pupil.aup.payload.variant).toBe('pupils');
    expect(devices.staff.aup.payload.variant).toBe('staff');
    const staffHash = aupHash(devices.staff.aup.payload);
    const pupilHash = aupHash(devices.pupil.aup.payload);

    expect(await query('staff', 'teacher1', staffHash)).toMatchObject({ accepted: false, refused: null });
    // The staff text is not what the pupil device must show: not answered there.
    expect(await query('pupil', 'teacher1', staffHash)).toMatchObject({ accepted: false, refused: 'not-current' });
    expect(await query('staff', 'teacher1', pupilHash)).toMatchObject({ accepted: false, refused: 'not-current' });
    expect(await summaryAup('staff')).toBe('not-accepted');
    expect(await summaryAup('pupil')).toBe('not-accepted');

    await accept('staff', 'teacher1', devices.staff.aup, 1);
    expect(await query('staff', 'teacher1', staffHash)).toMatchObject({ accepted: true, refused: null });
    expect(await waitUntil(async () => ((await summaryAup('staff')) === 'accepted' ? true : null), 15_000)).toBe(true);
    // The pupil device is not satisfied by the staff AUP, even for the same user.
    expect(await query('pupil', 'teacher1', pupilHash)).toMatchObject({ accepted: false, refused: null });
    expect(await summaryAup('pupil')).toBe('not-accepted');

    await accept('pupil', 'pupil1', devices.pupil.aup, 1);
    expect(await query('pupil', 'pupil1', pupilHash)).toMatchObject({ accepted: true, refused: null });
    expect(await waitUntil(async () => ((await summaryAup('pupil')) === 'accepted' ? true : null), 15_000)).toBe(true);
  });

  it('coverage, variants in use and the status report count each device under its own variant', async () => {
    const { rows } = (await consoleProc.api('/api/v1/aups/coverage')).body;
    expect(rows.map((r: any) => [r.variant, r.hostname, r.user, r.current])).toEqual([
      ['pupils', 'pupil-pc', 'pupil1', true],
      ['staff', 'staff-pc', 'teacher1', true],
    ]);
    expect((await consoleProc.api('/api/v1/aups')).body.variants).toEqual(['pupils', 'staff']);
    for (const [variant, hostname, user] of [
      ['pupils', 'pupil-pc', 'pupil1'],
      ['staff', 'staff-pc', 'teacher1'],
    ] as const) {
      const report = (await consoleProc.api(`/api/v1/aups/status?variant=${variant}`)).body;
      expect(report).toMatchObject({ variant, version: 1, devices: 1, counts: { users: 1, accepted: 1, notAccepted: 0 } });
      expect(report.rows.map((r: any) => [r.hostname, r.user, r.acceptedHere])).toEqual([[hostname, user, true]]);
    }
  });
});
