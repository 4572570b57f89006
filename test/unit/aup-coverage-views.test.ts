import { describe, expect, it } from 'vitest';
import { coverageByDevice, coverageByUser } from '../../renderer/dashboard/aup-coverage.js';
import type { AupStatusRow } from '../../src/shared/admin-api.js';

/** The AUP page's per-user and per-device views of the coverage rows (one per user and device). */
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const row = (user: string, deviceId: string, hostname: string, acceptedAt: string | null, lastSeenAt: string): AupStatusRow => ({
  user,
  deviceId,
  hostname,
  lastSeenAt,
  acceptedHere: false,
  acceptedAt,
  typedName: acceptedAt ? `${user} typed` : null,
});
const rows = [
  row('pupil2', A, 'lab-02', null, '2026-12-04T09:00:00Z'),
  row('pupil1', A, 'lab-02', '2026-12-01T08:00:00Z', '2026-12-04T08:00:00Z'),
  row('pupil1', B, 'lab-01', '2026-12-01T08:00:00Z', '2026-12-04T10:00:00Z'),
  row('pupil3', B, 'lab-01', '2026-12-02T08:00:00Z', '2026-12-03T10:00:00Z'),
];

describe('AUP coverage per user and per device', () => {
  it('one line per user: every device they were seen on, their acceptance, the latest sighting', () => {
    expect(coverageByUser(rows)).toEqual([
      { user: 'pupil1', hostnames: ['lab-01', 'lab-02'], acceptedAt: '2026-12-01T08:00:00Z', typedName: 'pupil1 typed', lastSeenAt: '2026-12-04T10:00:00Z' },
      { user: 'pupil2', hostnames: ['lab-02'], acceptedAt: null, typedName: null, lastSeenAt: '2026-12-04T09:00:00Z' },
      { user: 'pupil3', hostnames: ['lab-01'], acceptedAt: '2026-12-02T08:00:00Z', typedName: 'pupil3 typed', lastSeenAt: '2026-12-03T10:00:00Z' },
    ]);
  });

  it('one line per device: users seen, how many accepted, and who has not', () => {
    expect(coverageByDevice(rows)).toEqual([
      { deviceId: B, hostname: 'lab-01', users: 2, accepted: 2, pending: [] },
      { deviceId: A, hostname: 'lab-02', users: 2, accepted: 1, pending: ['pupil2'] },
    ]);
    expect(coverageByDevice([])).toEqual([]);
  });
});
