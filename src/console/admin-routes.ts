import { AuditQuerySchema } from '../shared/admin-api.js';
import { AupVariantSchema } from '../shared/aup.js';
import { csvRows } from '../shared/csv.js';
import { aupStatusCsv, type AupService } from './aups.js';
import { HttpError } from './http/http-error.js';
import type { RouteResult, Router } from './http/router.js';
import type { AuditRecord, ConsoleStore } from './store/store.js';

/**
 * The admin pages' reads (docs/console.md): the audit log with filters, and AUP coverage per
 * variant including who has not accepted yet. Both answer JSON, or CSV with `format=csv`.
 */
export function registerAdminRoutes(router: Router, deps: { store: ConsoleStore; aups: AupService }): void {
  router
    .add('GET', '/api/v1/audit', 'audit:read', async ({ url }) => {
      const query = parseQuery(url);
      const audit = await deps.store.queryAudit({
        ...query,
        from: query.from && new Date(query.from).toISOString(),
        to: query.to && new Date(query.to).toISOString(),
      });
      return wantsCsv(url) ? csv('audit.csv', auditCsv(audit)) : { status: 200, body: { audit } };
    })
    .add('GET', '/api/v1/aups/status', 'aup:read', async ({ url }) => {
      const variant = AupVariantSchema.safeParse(url.searchParams.get('variant') ?? '');
      if (!variant.success) throw new HttpError(400, 'invalid-request', 'variant must name an AUP variant, e.g. variant=secondary');
      const status = await deps.aups.status(variant.data);
      return wantsCsv(url) ? csv(`aup-${variant.data}-status.csv`, aupStatusCsv(status)) : { status: 200, body: status };
    })
    .add('GET', '/api/v1/aups/:variant/:version', 'aup:read', async ({ params }) => {
      const variant = AupVariantSchema.safeParse(params.variant);
      const version = Number(params.version);
      if (!variant.success || !Number.isInteger(version) || version < 1) throw new HttpError(400, 'invalid-request', 'not an AUP variant and version');
      const record = await deps.store.aupVersion(variant.data, version);
      if (!record) throw new HttpError(404, 'not-found', 'no such AUP version');
      const { title, markdown } = record.signed.payload;
      return {
        status: 200,
        body: { variant: record.variant, version: record.version, publishedBy: record.publishedBy, publishedAt: record.publishedAt, title, markdown },
      };
    });
}

function parseQuery(url: URL) {
  const raw = Object.fromEntries([...url.searchParams].filter(([key, value]) => key !== 'format' && value !== ''));
  const parsed = AuditQuerySchema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid-request', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

const wantsCsv = (url: URL) => url.searchParams.get('format') === 'csv';

function csv(filename: string, text: string): RouteResult {
  return { status: 200, raw: text, contentType: 'text/csv; charset=utf-8', headers: { 'Content-Disposition': `attachment; filename="${filename}"` } };
}

export function auditCsv(entries: AuditRecord[]): string {
  return csvRows(
    ['id', 'at', 'actor', 'action', 'target', 'detail'],
    entries.map((e) => [e.id, e.at, e.actor, e.action, e.target ?? '', JSON.stringify(e.detail)]),
  );
}
