import { z } from 'zod';
import { ChangeResponseSchema, GroupListResponseSchema, type GroupUpdateRequestSchema } from '../../src/shared/policies/api.js';
import type { MembershipRule } from '../../src/shared/policies/model.js';
import { apiJson, type ApiResult } from '../shared/console-api.js';

/**
 * The console's device groups as the pages use them (the Groups page, the grid's "add to group",
 * the device page's "set groups"): one list call and one change call, answers checked with the
 * shared schemas of src/shared/policies/api.ts.
 */
export type GroupView = z.infer<typeof GroupListResponseSchema>['groups'][number];
export type GroupUpdate = z.input<typeof GroupUpdateRequestSchema>;

export function loadGroups(): Promise<ApiResult<GroupView[]>> {
  return apiJson(GroupListResponseSchema, '/api/v1/groups').then((a) => (a.ok ? { ok: true, data: a.data.groups } : a));
}

export function updateGroup(name: string, change: GroupUpdate): Promise<ApiResult<z.infer<typeof ChangeResponseSchema>>> {
  return apiJson(ChangeResponseSchema, `/api/v1/groups/${encodeURIComponent(name)}`, { method: 'PATCH', body: JSON.stringify(change) });
}

/** A membership rule in words, as the Groups page and the device page say it. */
export function ruleText(rule: MembershipRule, tokenLabel: (id: string) => string | undefined = () => undefined): string {
  switch (rule.kind) {
    case 'hostname':
      return `Hostname matches ${rule.pattern}`;
    case 'ownership':
      return rule.ownership === 'byod' ? 'Pupil-owned devices (BYOD)' : 'School-owned devices';
    case 'enrollment-token':
      return `Enrolled with the token ${tokenLabel(rule.tokenId) ?? rule.tokenId}`;
  }
}

/** Why a device is in a group: listed by hand, or put there by a rule or a token's default groups (not removable by hand). */
export function listedByHand(group: GroupView, deviceId: string): boolean {
  return group.devices.includes(deviceId);
}
