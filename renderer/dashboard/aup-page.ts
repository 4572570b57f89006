import {
  AupListResponseSchema,
  AupPublishResponseSchema,
  AupStatusResponseSchema,
  AupVersionResponseSchema,
  type AupStatusResponse,
} from '../../src/shared/admin-api.js';
import { AupPublishRequestSchema } from '../../src/shared/aup.js';
import { drawStacked } from '../shared/chart.js';
import { csvRows } from '../../src/shared/csv.js';
import { apiJson, el, row } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { button, checkForm, setFieldError } from '../shared/forms.js';
import { renderMarkdown } from '../shared/markdown.js';
import { coverageByDevice, coverageByUser } from './aup-coverage.js';
import { clock, relative } from './format.js';

/**
 * The AUP: who has accepted the current version of each variant and who has not yet (everyone
 * seen signing in on a device on that variant), the published versions, and an editor that
 * previews the text with the pupil page's own renderer and sheet (renderMarkdown and
 * aup-document.css), then publishes a version (Systems Manager, admin).
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const MAX_UPLOAD_BYTES = 200_000;

export class AupPage {
  private mayPublish = false;
  private status: AupStatusResponse | null = null;
  /** The blob URL the CSV link holds for the per-user and per-device views. */
  private csvUrl: string | null = null;

  constructor() {
    $('aup-coverage-variant').addEventListener('change', () => void this.loadCoverage());
    $('aup-coverage-show').addEventListener('change', () => this.drawCoverage());
    $('aup-coverage-by').addEventListener('change', () => this.drawCoverage());
    $('aup-preview-button').addEventListener('click', () => this.preview(true));
    $('aup-file').addEventListener('change', () => void this.upload());
    $('aup-editor').addEventListener('submit', (e) => (e.preventDefault(), void this.publish()));
  }

  allowPublish(allowed: boolean): void {
    this.mayPublish = allowed;
    $('aup-editor').hidden = !allowed;
    $('aup-readonly').hidden = allowed;
  }

  async load(): Promise<void> {
    const list = await apiJson(AupListResponseSchema, '/api/v1/aups');
    $('aup-error').textContent = list.ok ? '' : `Could not load the AUPs: ${list.message}`;
    if (!list.ok) return;
    const { aups, variants: inUse } = list.data;
    const variants = [...new Set([...inUse, ...aups.map((a) => a.variant)])].sort();
    $('aup-summary').textContent = inUse.length ? `Devices are asked to accept: ${inUse.join(', ')}` : 'No policy asks devices to show an AUP yet.';
    const select = $<HTMLSelectElement>('aup-coverage-variant');
    const chosen = select.value || inUse[0] || variants[0] || '';
    select.replaceChildren(...variants.map((v) => new Option(inUse.includes(v) ? v : `${v} (not in use)`, v)));
    if (!variants.length) select.add(new Option('No variant yet', ''));
    select.disabled = !variants.length;
    select.value = chosen;
    $('aup-variants').replaceChildren(...variants.map((v) => new Option(v, v)));
    if (!$<HTMLInputElement>('aup-variant').value && chosen) $<HTMLInputElement>('aup-variant').value = chosen;

    const sorted = [...aups].sort((a, b) => b.publishedAt.localeCompare(a.publishedAt));
    $('aup-versions-empty').hidden = sorted.length > 0;
    $('aup-version-rows').replaceChildren(
      ...sorted.map((a) => {
        const open = button(`Open ${a.variant} v${a.version}`, () => void this.open(a.variant, a.version), 'secondary');
        const tr = row([a.variant, `v${a.version}`, clock(a.publishedAt), a.publishedBy, open]);
        tr.dataset.aup = `${a.variant}:${a.version}`;
        return tr;
      }),
    );
    await this.loadCoverage();
  }

  private async loadCoverage(): Promise<void> {
    const variant = $<HTMLSelectElement>('aup-coverage-variant').value;
    const csv = $<HTMLAnchorElement>('aup-coverage-csv');
    csv.hidden = !variant;
    if (!variant) {
      this.status = null;
      return this.drawCoverage();
    }
    const answer = await apiJson(AupStatusResponseSchema, `/api/v1/aups/status?variant=${encodeURIComponent(variant)}`);
    if (!answer.ok) $('aup-error').textContent = `Could not load the coverage: ${answer.message}`;
    this.status = answer.ok ? answer.data : null;
    this.drawCoverage();
  }

  private drawCoverage(): void {
    const s = this.status;
    const show = $<HTMLSelectElement>('aup-coverage-show').value;
    const rows = (s?.rows ?? []).filter((r) => show === 'all' || (show === 'accepted') === (r.acceptedAt !== null));
    drawStacked(
      $('aup-chart'),
      s
        ? [
            { label: 'Accepted', value: s.counts.accepted, kind: 'online' },
            { label: 'Not yet', value: s.counts.notAccepted, kind: 'offline' },
          ]
        : [],
    );
    $('aup-counts').textContent = !s
      ? ''
      : s.version === null
        ? `Nothing is published for ${s.variant} yet.`
        : `${s.variant} v${s.version}: ${s.counts.accepted} of ${s.counts.users} users accepted, ${s.counts.notAccepted} not yet (on ${s.devices} devices).`;
    const devices = coverageByDevice(s?.rows ?? []);
    const covered = devices.filter((d) => d.pending.length === 0).length;
    $('aup-device-counts').textContent =
      s && s.version !== null
        ? `Devices: ${covered} of ${devices.length} with every signed-in user accepted, ${devices.length - covered} with someone still to accept.`
        : '';
    const by = $<HTMLSelectElement>('aup-coverage-by').value;
    if (by !== 'pair') return this.drawAggregate(by === 'user' ? 'user' : 'device', show);
    this.drawHead(['User', 'Device', 'Accepted', 'Name typed', 'Last seen']);
    this.setCsv(s ? `/api/v1/aups/status?variant=${encodeURIComponent(s.variant)}&format=csv` : '#');
    const empty = $('aup-coverage-empty');
    empty.hidden = rows.length > 0;
    empty.textContent = !s
      ? 'No AUP variant yet: publish one below, then name it in the policy.'
      : s.rows.length === 0
        ? 'Nobody has been seen signing in on a device that shows this variant.'
        : show === 'not'
          ? 'Everyone seen signing in has accepted the current version.'
          : 'Nobody has accepted the current version yet.';
    $('aup-coverage-rows').replaceChildren(
      ...rows.map((r) =>
        row([
          r.user,
          r.hostname,
          r.acceptedAt === null ? 'Not yet' : `${clock(r.acceptedAt)}${r.acceptedHere ? '' : ' (on another device)'}`,
          r.typedName ?? '—',
          relative(r.lastSeenAt),
        ]),
      ),
    );
  }

  /** One row per user (the devices they were seen on) or per device (its users, and who has not accepted), with their own CSV. */
  private drawAggregate(by: 'user' | 'device', show: string): void {
    const s = this.status;
    const keep = (accepted: boolean) => show === 'all' || (show === 'accepted') === accepted;
    let header: string[];
    let cells: string[][];
    let csv: (string | number | boolean)[][];
    if (by === 'user') {
      const users = coverageByUser(s?.rows ?? []).filter((u) => keep(u.acceptedAt !== null));
      header = ['User', 'Devices', 'Accepted', 'Name typed', 'Last seen'];
      cells = users.map((u) => [
        u.user,
        u.hostnames.join(', '),
        u.acceptedAt === null ? 'Not yet' : clock(u.acceptedAt),
        u.typedName ?? '—',
        relative(u.lastSeenAt),
      ]);
      csv = users.map((u) => [
        s!.variant,
        s!.version ?? '',
        u.user,
        u.hostnames.join(' '),
        u.acceptedAt !== null,
        u.acceptedAt ?? '',
        u.typedName ?? '',
        u.lastSeenAt,
      ]);
      this.setCsvText(['variant', 'version', 'user', 'hostnames', 'accepted', 'accepted_at', 'typed_name', 'last_seen_at'], csv);
    } else {
      const devices = coverageByDevice(s?.rows ?? []).filter((d) => keep(d.pending.length === 0));
      header = ['Device', 'Users seen', 'Accepted', 'Not yet', 'Still to accept'];
      cells = devices.map((d) => [d.hostname, String(d.users), String(d.accepted), String(d.pending.length), d.pending.join(', ') || '—']);
      csv = devices.map((d) => [s!.variant, s!.version ?? '', d.hostname, d.deviceId, d.users, d.accepted, d.pending.length, d.pending.join(' ')]);
      this.setCsvText(['variant', 'version', 'hostname', 'device_id', 'users', 'accepted', 'not_accepted', 'not_accepted_users'], csv);
    }
    this.drawHead(header);
    const empty = $('aup-coverage-empty');
    empty.hidden = cells.length > 0;
    empty.textContent = !s || s.rows.length === 0 ? 'Nobody has been seen signing in on a device that shows this variant.' : 'Nothing matches this choice.';
    $('aup-coverage-rows').replaceChildren(...cells.map((c) => row(c)));
  }

  private drawHead(names: string[]): void {
    $('aup-coverage-head').replaceChildren(
      ...names.map((name) => {
        const th = el('th', name);
        th.scope = 'col';
        return th;
      }),
    );
  }

  private setCsv(href: string): void {
    if (this.csvUrl) URL.revokeObjectURL(this.csvUrl);
    this.csvUrl = null;
    const link = $<HTMLAnchorElement>('aup-coverage-csv');
    link.href = href;
    // The console's answer names the file itself.
    link.download = '';
  }

  private setCsvText(header: string[], rows: (string | number | boolean)[][]): void {
    const link = $<HTMLAnchorElement>('aup-coverage-csv');
    this.setCsv('#');
    this.csvUrl = URL.createObjectURL(new Blob([csvRows(header, rows)], { type: 'text/csv;charset=utf-8' }));
    link.href = this.csvUrl;
    link.download = `aup-coverage-by-${$<HTMLSelectElement>('aup-coverage-by').value}.csv`;
  }

  /** Loads a published version into the editor as the start of the next one. */
  private async open(variant: string, version: number): Promise<void> {
    const answer = await apiJson(AupVersionResponseSchema, `/api/v1/aups/${encodeURIComponent(variant)}/${version}`);
    if (!answer.ok) return void ($('aup-error').textContent = `Could not open ${variant} v${version}: ${answer.message}`);
    $<HTMLInputElement>('aup-variant').value = answer.data.variant;
    $<HTMLInputElement>('aup-title-input').value = answer.data.title;
    $<HTMLTextAreaElement>('aup-markdown').value = answer.data.markdown;
    this.preview(true);
  }

  private async upload(): Promise<void> {
    const file = $<HTMLInputElement>('aup-file').files?.[0];
    if (!file) return;
    if (file.size > MAX_UPLOAD_BYTES) return setFieldError('aup-markdown', `The file is larger than ${MAX_UPLOAD_BYTES / 1000} kB; an AUP is at most that.`);
    $<HTMLTextAreaElement>('aup-markdown').value = await file.text();
    setFieldError('aup-markdown', '');
    this.preview(false);
  }

  private draft() {
    return {
      variant: $<HTMLInputElement>('aup-variant').value.trim(),
      title: $<HTMLInputElement>('aup-title-input').value.trim(),
      markdown: $<HTMLTextAreaElement>('aup-markdown').value,
    };
  }

  /** The pupil page's rendering of the draft: same renderer, same sheet, same variant sizing. */
  private preview(focus: boolean): void {
    const d = this.draft();
    $('aup-preview').hidden = false;
    $('aup-preview-frame').dataset.variant = d.variant;
    $('aup-preview-heading').textContent = d.title || '(no title yet)';
    $('aup-preview-document').replaceChildren(renderMarkdown(d.markdown));
    if (focus) $('aup-preview-title').focus();
  }

  private async publish(): Promise<void> {
    if (!this.mayPublish) return;
    const body = checkForm(AupPublishRequestSchema, this.draft(), { variant: 'aup-variant', title: 'aup-title-input', markdown: 'aup-markdown' });
    if (!body) return;
    this.preview(false);
    const ok = await confirmAction({
      title: `Publish a new version of the ${body.variant} AUP?`,
      text: `Every pupil on a device showing ${body.variant} is asked to read and accept it again at their next sign-in. Check the preview first.`,
      ok: 'Publish',
    });
    if (!ok) return;
    const answer = await apiJson(AupPublishResponseSchema, '/api/v1/aups', { method: 'POST', body: JSON.stringify(body) });
    $('aup-result').textContent = answer.ok
      ? `Published ${answer.data.variant} v${answer.data.version}; sent to ${answer.data.deliveredTo} connected device${answer.data.deliveredTo === 1 ? '' : 's'}.`
      : `Not published: ${answer.message}`;
    await this.load();
  }
}
