import { z } from 'zod';
import { GroupNameSchema } from '../../shared/app-rules.js';
import {
  AssignRequestSchema,
  BaselineRequestSchema,
  GroupCreateRequestSchema,
  GroupUpdateRequestSchema,
  OwnershipRequestSchema,
  PolicyCreateRequestSchema,
  PolicyPushRequestSchema,
  RollbackRequestSchema,
  RuleAddRequestSchema,
  RuleRemoveRequestSchema,
  TokenGroupsRequestSchema,
} from '../../shared/policies/api.js';
import { ImportPreviewRequestSchema, ImportRequestSchema } from '../../shared/policies/import-api.js';
import { PolicyNameSchema, PolicySettingsSchema } from '../../shared/policies/model.js';
import { recordKey } from '../../shared/policies/rule-keys.js';
import { POLICY_LIMITS } from '../../shared/policy-limits.js';
import { UuidSchema } from '../../shared/text.js';
import { readJson } from '../http/body.js';
import { HttpError } from '../http/http-error.js';
import type { Principal, RouteResult, Router } from '../http/router.js';
import type { PolicyPlane, PushOutcome } from './plane.js';
import { PolicyLimitError } from './publisher.js';
import { importedRecords, importNotes, readRuleFile } from './rule-files.js';

/**
 * The policy plane's API (docs/policies.md "API"): groups, named policies, their rules,
 * revisions and assignments, and per-device explanations. Systems Managers and admins change
 * (`policy:push`), technicians read (`policy:read`); the plane audits every change in the same
 * transaction that stores it. Request and response bodies are the schemas of
 * src/shared/policies/api.ts.
 */

const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
const who = (p: Principal | null, reason?: string) => ({ actor: p?.username ?? 'anonymous', ...(reason ? { reason } : {}) });

const param = <S extends z.ZodType>(schema: S, value: string | undefined, what: string): z.infer<S> => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, 'invalid-request', `not a ${what}`);
  return parsed.data;
};
const policyName = (v: string | undefined) => param(PolicyNameSchema, v, 'policy name');
const groupName = (v: string | undefined) => param(GroupNameSchema, v, 'group name');
const revisionParam = (v: string | null, what: string): number | null => {
  if (v === null) return null;
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new HttpError(400, 'invalid-request', `${what} must be a revision number`);
  return Number(v);
};

/** A change the limits refuse is "too large", with every limit it breaks named. */
async function limited<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PolicyLimitError) throw new HttpError(413, 'policy-too-large', error.message);
    throw error;
  }
}

/** The answer to a push: 201, or 409 naming every console-added rule the push would drop or change. */
export function pushAnswer(outcome: PushOutcome): RouteResult {
  if (outcome.ok) {
    const { ok: _ok, ...answer } = outcome;
    return ok(answer, 201);
  }
  const names = [...outcome.dropped.map((r) => recordKey(r)), ...outcome.overridden.map((c) => c.key)];
  return ok(
    {
      error: 'would-drop-console-rules',
      message: `the push would drop or change ${names.length} rule(s) added on the console: ${names.join(', ')}; push again with mode keep-console-rules (keep them) or replace (drop them)`,
      dropped: outcome.dropped,
      overridden: outcome.overridden,
    },
    409,
  );
}

/** A pushed document with more rules than a policy may hold is refused before it is parsed. */
export function checkRuleCount(document: unknown): void {
  const apps = (document as { applications?: { rules?: unknown; exceptions?: unknown } } | null)?.applications;
  const rules = Array.isArray(apps?.rules) ? apps.rules.length : 0;
  const exceptions = Array.isArray(apps?.exceptions) ? apps.exceptions.length : 0;
  if (rules > POLICY_LIMITS.rules)
    throw new HttpError(413, 'policy-too-large', `the document holds ${rules} rules; the policy's rule limit is ${POLICY_LIMITS.rules}`);
  if (exceptions > POLICY_LIMITS.exceptions)
    throw new HttpError(413, 'policy-too-large', `the document holds ${exceptions} exceptions; the policy's exception limit is ${POLICY_LIMITS.exceptions}`);
}

/** `PUT …/settings`: the whole settings object of a named policy, as the Policies page's forms make it. */
export const SettingsRequestSchema = z.strictObject({ settings: PolicySettingsSchema, reason: z.string().trim().min(3).max(500) });

export interface PlaneRouteDeps {
  plane: PolicyPlane;
  tokenExists(id: string): Promise<boolean>;
}

export function registerPolicyPlaneRoutes(router: Router, { plane, tokenExists }: PlaneRouteDeps): void {
  router
    .add('GET', '/api/v1/groups', 'policy:read', async () => ok({ groups: await plane.groups() }))
    .add('POST', '/api/v1/groups', 'policy:push', async ({ req, principal }) => {
      const body = await readJson(req, GroupCreateRequestSchema);
      return ok(await limited(() => plane.createGroup(body, who(principal))), 201);
    })
    .add('GET', '/api/v1/groups/:name', 'policy:read', async ({ params }) => {
      const name = groupName(params.name);
      const group = (await plane.groups()).find((g) => g.name === name);
      if (!group) throw new HttpError(404, 'not-found', `no group named ${name}`);
      return ok({ group });
    })
    .add('PATCH', '/api/v1/groups/:name', 'policy:push', async ({ req, params, principal }) => {
      const name = groupName(params.name);
      const body = await readJson(req, GroupUpdateRequestSchema);
      return ok(await limited(() => plane.updateGroup(name, body, who(principal))));
    })
    .add('DELETE', '/api/v1/groups/:name', 'policy:push', async ({ params, principal }) => ok(await limited(() => plane.deleteGroup(groupName(params.name), who(principal)))))

    .add('GET', '/api/v1/named-policies', 'policy:read', async () => ok({ policies: await plane.policies() }))
    .add('POST', '/api/v1/named-policies', 'policy:push', async ({ req, principal }) => {
      const body = await readJson(req, PolicyCreateRequestSchema, { maxBytes: POLICY_LIMITS.bundleBytes });
      return ok(await limited(() => plane.createPolicy(body, who(principal, body.reason))), 201);
    })
    .add('GET', '/api/v1/named-policies/:name', 'policy:read', async ({ params }) => ok({ policy: await plane.policy(policyName(params.name)) }))
    .add('GET', '/api/v1/named-policies/:name/history', 'policy:read', async ({ params, url }) => {
      const limit = revisionParam(url.searchParams.get('limit'), 'limit') ?? 100;
      return ok({ history: await plane.history(policyName(params.name), Math.min(limit, 1000)) });
    })
    .add('GET', '/api/v1/named-policies/:name/revisions/:revision', 'policy:read', async ({ params }) =>
      ok({ revision: await plane.revision(policyName(params.name), revisionParam(params.revision!, 'revision')!) }),
    )
    .add('GET', '/api/v1/named-policies/:name/diff', 'policy:read', async ({ params, url }) =>
      ok(await plane.diff(policyName(params.name), revisionParam(url.searchParams.get('from'), 'from'), revisionParam(url.searchParams.get('to'), 'to'))),
    )
    .add('POST', '/api/v1/named-policies/:name/rollback', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, RollbackRequestSchema);
      return ok(await limited(() => plane.rollback(name, body.revision, who(principal, body.reason))));
    })
    .add('POST', '/api/v1/named-policies/:name/push', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, PolicyPushRequestSchema, { maxBytes: POLICY_LIMITS.bundleBytes });
      checkRuleCount(body.document);
      return pushAnswer(await limited(() => plane.push(name, body.document, body.mode, who(principal, body.reason))));
    })
    .add('GET', '/api/v1/named-policies/:name/rules', 'policy:read', async ({ params }) => {
      const policy = await plane.policy(policyName(params.name));
      return ok({ rules: policy.content.rules.map((record) => ({ key: recordKey(record), record })) });
    })
    .add('POST', '/api/v1/named-policies/:name/rules', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, RuleAddRequestSchema);
      if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw new HttpError(400, 'invalid-request', 'expiresAt is in the past');
      return ok(await limited(() => plane.addRule(name, body, who(principal, body.reason))), 201);
    })
    .add('DELETE', '/api/v1/named-policies/:name/rules', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, RuleRemoveRequestSchema);
      return ok(await limited(() => plane.removeRule(name, body.key, who(principal, body.reason))));
    })

    .add('PUT', '/api/v1/named-policies/:name/settings', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, SettingsRequestSchema);
      return ok(await limited(() => plane.setSettings(name, body.settings, who(principal, body.reason))));
    })
    // An uploaded rule file: the preview answers what committing would do and stores nothing.
    .add('POST', '/api/v1/named-policies/:name/import/preview', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, ImportPreviewRequestSchema, { maxBytes: POLICY_LIMITS.bundleBytes });
      const file = readRuleFile(body.format, Buffer.from(body.content, 'base64'));
      const records = importedRecords(file, { actor: principal?.username ?? 'anonymous', at: new Date().toISOString(), reason: 'preview' });
      const { diff } = await plane.importRules(name, records, who(principal), true);
      return ok({
        format: body.format,
        rules: file.rules.length,
        exceptions: file.exceptions.length,
        ...(file.mode ? { mode: file.mode } : {}),
        ...(file.defaultAction ? { defaultAction: file.defaultAction } : {}),
        notes: importNotes(file),
        diff,
      });
    })
    .add('POST', '/api/v1/named-policies/:name/import', 'policy:push', async ({ req, params, principal }) => {
      const name = policyName(params.name);
      const body = await readJson(req, ImportRequestSchema, { maxBytes: POLICY_LIMITS.bundleBytes });
      const file = readRuleFile(body.format, Buffer.from(body.content, 'base64'));
      const actor = who(principal, body.reason);
      const records = importedRecords(file, { actor: actor.actor, at: new Date().toISOString(), reason: body.reason });
      const { diff, result } = await limited(() => plane.importRules(name, records, actor, false));
      return ok({ ...result!, diff, notes: importNotes(file) }, 201);
    })

    .add('GET', '/api/v1/assignments', 'policy:read', async () => ok({ assignments: await plane.assignments() }))
    .add('POST', '/api/v1/assignments', 'policy:push', async ({ req, principal }) => {
      const body = await readJson(req, AssignRequestSchema);
      return ok(await limited(() => plane.assign(body, who(principal, body.reason))));
    })
    .add('PUT', '/api/v1/assignments/baseline', 'policy:push', async ({ req, principal }) => {
      const body = await readJson(req, BaselineRequestSchema);
      return ok(await limited(() => plane.setBaseline(body.policy, who(principal, body.reason))));
    })
    .add('DELETE', '/api/v1/assignments/:policy/:group', 'policy:push', async ({ params, principal }) =>
      ok(await limited(() => plane.unassign(policyName(params.policy), groupName(params.group), who(principal)))),
    )

    .add('GET', '/api/v1/devices/:id/policy/explain', 'policy:read', async ({ params }) => ok(await plane.explain(param(UuidSchema, params.id, 'device id'))))
    .add('PUT', '/api/v1/devices/:id/ownership', 'policy:push', async ({ req, params, principal }) => {
      const id = param(UuidSchema, params.id, 'device id');
      const body = await readJson(req, OwnershipRequestSchema);
      return ok(await limited(() => plane.setOwnership(id, body.ownership, who(principal, body.reason))));
    })
    .add('PUT', '/api/v1/enroll-tokens/:id/groups', 'enroll-tokens:manage', async ({ req, params, principal }) => {
      const id = param(UuidSchema, params.id, 'token id');
      const body = await readJson(req, TokenGroupsRequestSchema);
      if (!(await tokenExists(id))) throw new HttpError(404, 'not-found', 'no such enrollment token');
      return ok(await limited(() => plane.setTokenGroups(id, body.groups, who(principal, body.reason))));
    });
}
