import { z } from 'zod';
import { StationListResponseSchema, StationReportListResponseSchema, type StationReportView } from '../../src/shared/admin-api.js';
import { StationRegisterRequestSchema, type StationRecord } from '../../src/shared/usb-policy.js';
import { apiJson, el, row } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { button, checkForm } from '../shared/forms.js';
import { clock } from './format.js';

/**
 * USB scan stations (Systems Manager, admin): register a station's key, revoke one (asked
 * first; both publish a new policy), and each station's latest scan reports.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ChangedSchema = z.object({}).passthrough();
const OUTCOME_TEXT: Record<StationReportView['outcome'], string> = { clean: 'Clean', infected: 'Infected', unreadable: 'Unreadable', refused: 'Refused' };

export class StationsPage {
  private shown: string | null = null;

  constructor() {
    $('station-register').addEventListener('submit', (e) => (e.preventDefault(), void this.register()));
  }

  async load(): Promise<void> {
    const answer = await apiJson(StationListResponseSchema, '/api/v1/stations');
    $('stations-error').textContent = answer.ok ? '' : `Could not load the stations: ${answer.message}`;
    if (!answer.ok) return;
    const stations = answer.data.stations;
    $('stations-summary').textContent = `${stations.filter((s) => !s.revokedAt).length} trusted, ${stations.filter((s) => s.revokedAt).length} revoked`;
    $('stations-empty').hidden = stations.length > 0;
    $('station-rows').replaceChildren(...stations.map((s) => this.stationRow(s)));
    if (this.shown && stations.some((s) => s.id === this.shown)) await this.reports(this.shown, false);
  }

  private stationRow(s: StationRecord): HTMLTableRowElement {
    const actions = el('span', '', 'row-buttons');
    actions.append(button(`Reports of ${s.id}`, () => void this.reports(s.id, true), 'secondary'));
    if (!s.revokedAt) actions.append(button('Revoke…', () => void this.revoke(s), 'danger'));
    const tr = row([
      s.id,
      s.keyId,
      `${clock(s.registeredAt)} by ${s.registeredBy}`,
      s.revokedAt ? `Revoked ${clock(s.revokedAt)} by ${s.revokedBy ?? '?'}` : 'Trusted',
      actions,
    ]);
    tr.dataset.stationId = s.id;
    return tr;
  }

  private async register(): Promise<void> {
    const body = checkForm(
      StationRegisterRequestSchema,
      { id: $<HTMLInputElement>('station-id').value.trim(), publicKey: $<HTMLTextAreaElement>('station-key').value.trim() },
      { id: 'station-id', publicKey: 'station-key' },
    );
    if (!body) return;
    const answer = await apiJson(ChangedSchema, '/api/v1/stations', { method: 'POST', body: JSON.stringify(body) });
    $('station-result').textContent = answer.ok
      ? `Registered ${body.id}; the new policy is on its way to the laptops.`
      : `The station was not registered: ${answer.message}`;
    if (answer.ok) $<HTMLFormElement>('station-register').reset();
    await this.load();
  }

  private async revoke(s: StationRecord): Promise<void> {
    const ok = await confirmAction({
      title: `Revoke the station ${s.id}?`,
      text: 'Laptops stop trusting every flag this station wrote, including ones written before today. This publishes a new policy.',
      ok: 'Revoke station',
      danger: true,
    });
    if (!ok) return;
    const answer = await apiJson(ChangedSchema, `/api/v1/stations/${encodeURIComponent(s.id)}/revoke`, { method: 'POST', body: '{}' });
    $('station-result').textContent = answer.ok ? `Revoked ${s.id}.` : `The station was not revoked: ${answer.message}`;
    await this.load();
  }

  private async reports(id: string, focus: boolean): Promise<void> {
    this.shown = id;
    $('station-reports').hidden = false;
    $('station-reports-title').textContent = `Latest reports from ${id}`;
    const answer = await apiJson(StationReportListResponseSchema, `/api/v1/stations/${encodeURIComponent(id)}/reports?limit=50`);
    if (!answer.ok) {
      $('station-reports-summary').textContent = `Could not load the reports: ${answer.message}`;
      $('station-report-rows').replaceChildren();
      return;
    }
    const reports = answer.data.reports;
    const count = (o: StationReportView['outcome']) => reports.filter((r) => r.outcome === o).length;
    const engines = [
      ...new Set(reports.map((r) => `${r.engine.name} ${r.engine.version}${r.engine.databaseVersion ? ` (db ${r.engine.databaseVersion})` : ''}`)),
    ];
    $('station-reports-summary').textContent = reports.length
      ? `${count('clean')} clean, ${count('infected')} infected, ${count('unreadable')} unreadable, ${count('refused')} refused. Engine: ${engines.join('; ')}`
      : '';
    $('station-reports-empty').hidden = reports.length > 0;
    $('station-report-rows').replaceChildren(
      ...reports.map((r) =>
        row([
          clock(r.scannedAt),
          OUTCOME_TEXT[r.outcome],
          String(r.counts.files),
          String(r.counts.infected),
          String(r.counts.problems),
          r.engine.version,
          r.detail || '—',
        ]),
      ),
    );
    if (focus) $('station-reports-title').focus();
  }
}
