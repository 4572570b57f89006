import type { DeviceSummary } from '../../src/shared/api.js';
import { drawStacked } from '../shared/chart.js';
import { el } from '../shared/console-api.js';
import { presenceOf } from './format.js';

/** The fleet at a glance, above the grid: presence (with a small bar), policy, AUP and blocks. */
export interface FleetCounts {
  online: number;
  asleep: number;
  offline: number;
  revoked: number;
  policyBehind: number;
  aupAccepted: number;
  aupNotAccepted: number;
  blocks24h: number;
}

export function countFleet(devices: readonly DeviceSummary[], currentPolicy: number | null): FleetCounts {
  const c: FleetCounts = { online: 0, asleep: 0, offline: 0, revoked: 0, policyBehind: 0, aupAccepted: 0, aupNotAccepted: 0, blocks24h: 0 };
  for (const d of devices) {
    c[presenceOf(d)]++;
    if (d.revoked) continue;
    if (currentPolicy !== null && (d.policyVersion === null || d.policyVersion < currentPolicy)) c.policyBehind++;
    if (d.aup === 'accepted') c.aupAccepted++;
    if (d.aup === 'not-accepted') c.aupNotAccepted++;
    c.blocks24h += d.blocks?.count24h ?? 0;
  }
  return c;
}

export function drawFleet(chart: HTMLElement, facts: HTMLElement, c: FleetCounts): void {
  drawStacked(chart, [
    { label: 'Online', value: c.online, kind: 'online' },
    { label: 'Asleep', value: c.asleep, kind: 'asleep' },
    { label: 'Offline', value: c.offline, kind: 'offline' },
  ]);
  const signedIn = c.aupAccepted + c.aupNotAccepted;
  const items: [string, string, string][] = [
    ['online', `${c.online} online`, 'fleet-online'],
    ['asleep', `${c.asleep} asleep`, 'fleet-asleep'],
    ['offline', `${c.offline} offline`, 'fleet-offline'],
    ['', `Behind on policy: ${c.policyBehind}`, 'fleet-policy'],
    ['', signedIn ? `AUP: ${c.aupAccepted} of ${signedIn} signed-in users accepted` : 'AUP: nobody signed in needs to accept', 'fleet-aup'],
    ['', `Blocks in the last 24 h: ${c.blocks24h}`, 'fleet-blocks'],
  ];
  if (c.revoked) items.push(['revoked', `${c.revoked} revoked`, 'fleet-revoked']);
  facts.replaceChildren(
    ...items.map(([state, text, id]) => {
      const li = el('li', text, state ? `state ${state}` : '');
      li.id = id;
      return li;
    }),
  );
}
