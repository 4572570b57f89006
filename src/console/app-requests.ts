import type { z } from 'zod';
import type { AppRequest, AppRequestApproveSchema } from '../shared/api.js';
import type { AppRule } from '../shared/app-rules.js';
import type { AppPermissionRequest } from '../shared/events.js';
import type { Logger } from '../shared/node/log.js';
import { APPROVALS_POLICY } from '../shared/policies/api.js';
import { approvalRecord } from '../shared/policies/edits.js';
import { ConflictError, InvalidError, NotFoundError } from './errors.js';
import { SerialQueue } from '../shared/serial-queue.js';
import type { PolicyPlane } from './policies/plane.js';
import type { ConsoleStore } from './store/store.js';

type ApproveOptions = z.infer<typeof AppRequestApproveSchema>;

export const MAX_PENDING_PER_DEVICE = 20;

/**
 * Parses the signer string a device reports: "publisher:<certificate subject>" (Windows),
 * "team:<TEAMID>" or "team:<TEAMID>:<signing id>" (macOS); "unknown" and anything else is null.
 */
export function signerRuleFields(signer: string): Pick<AppRule & { kind: 'signer' }, 'publisher' | 'teamId' | 'signingId'> | null {
  if (signer.startsWith('publisher:') && signer.length > 10) return { publisher: signer.slice(10) };
  const team = /^team:([A-Z0-9]{10})(?::(.+))?$/.exec(signer);
  if (team) return { teamId: team[1]!, ...(team[2] ? { signingId: team[2] } : {}) };
  return null;
}

/**
 * The request-permission loop at the console: requests arrive as device events, a Systems
 * Manager approves (a rule is added to the named policy chosen at approval, by default the
 * approvals policy, and published through the policy plane) or declines. Decisions are serialised so two approvals never overwrite each other's rule.
 */
export class AppRequestService {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly store: ConsoleStore,
    /** Where an approval's rule goes (a named policy, published through the plane). */
    private readonly plane: PolicyPlane,
    private readonly log: Logger,
    /**
     * Tells the pupil on the requesting device what was decided (a signed `message` command; the
     * session agent shows it). Best effort: an offline device is not told later.
     */
    private readonly tellDevice?: (deviceId: string, text: string) => Promise<unknown>,
  ) {}

  /** Queued one at a time (with decisions), so the per-device cap counts every earlier request. */
  record(deviceId: string, eventId: string, at: string, data: AppPermissionRequest): Promise<void> {
    return this.queue.run(() => this.recordNow(deviceId, eventId, at, data));
  }

  private async recordNow(deviceId: string, eventId: string, at: string, data: AppPermissionRequest): Promise<void> {
    // One device (one pupil, say) must not be able to bury everyone else's requests. The event
    // itself is kept with the device's other events, so nothing is lost.
    if ((await this.store.countPendingAppRequests(deviceId)) >= MAX_PENDING_PER_DEVICE) {
      this.log.warn('application request not queued: too many pending requests from this device', { deviceId, name: data.name, eventId });
      return;
    }
    const fresh = await this.store.insertAppRequest({ id: eventId, deviceId, requestedAt: at, ...data });
    if (fresh) this.log.info('application request queued', { deviceId, name: data.name, sha256: data.sha256 });
  }

  approve(
    id: string,
    options: ApproveOptions,
    actor: string,
  ): Promise<{ request: AppRequest; version: number | null; deliveredTo: number; rule: AppRule; policy: string }> {
    return this.queue.run(async () => {
      const request = await this.pending(id);
      const rule = this.ruleFor(request, options);
      const decidedAt = new Date().toISOString();
      const record = approvalRecord(rule, {
        by: actor,
        at: decidedAt,
        requestId: request.id,
        reason: `approved request from ${request.user ?? 'unknown user'}: ${request.reason ?? 'no reason given'}`,
        ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}),
      });
      const policy = options.policy ?? APPROVALS_POLICY;
      const result = await this.plane.addApproval(options.policy, record, { actor }, (published) => ({
        at: decidedAt,
        actor,
        action: 'app-request.approved',
        target: `app-request:${id}`,
        detail: {
          deviceId: request.deviceId,
          name: request.name,
          sha256: request.sha256,
          rule,
          policy,
          expiresAt: options.expiresAt ?? null,
          policyVersion: published.version,
        },
      }));
      await this.store.decideAppRequest(id, { status: 'approved', decidedBy: actor, decidedAt, note: options.note ?? null, policyVersion: result.version });
      this.tell(request, `The school has allowed "${request.name}". You can start it now.${options.note ? ` Note: ${options.note}` : ''}`);
      return { request: (await this.store.getAppRequest(id))!, version: result.version, deliveredTo: result.notified, rule, policy };
    });
  }

  decline(id: string, note: string | undefined, actor: string): Promise<AppRequest> {
    return this.queue.run(async () => {
      const request = await this.pending(id);
      const decidedAt = new Date().toISOString();
      await this.store.decideAppRequest(id, { status: 'declined', decidedBy: actor, decidedAt, note: note ?? null, policyVersion: null });
      this.tell(request, `Your request to use "${request.name}" was declined by the school.${note ? ` Note: ${note}` : ''}`);
      await this.store.appendAudit({
        at: decidedAt,
        actor,
        action: 'app-request.declined',
        target: `app-request:${id}`,
        detail: { deviceId: request.deviceId, name: request.name, sha256: request.sha256, note: note ?? null },
      });
      return (await this.store.getAppRequest(id))!;
    });
  }

  private tell(request: AppRequest, text: string): void {
    if (!this.tellDevice) return;
    this.tellDevice(request.deviceId, text.slice(0, 500)).catch((error: unknown) =>
      this.log.warn('could not tell the device about the decision', { deviceId: request.deviceId, error: String(error) }),
    );
  }

  private async pending(id: string): Promise<AppRequest> {
    const request = await this.store.getAppRequest(id);
    if (!request) throw new NotFoundError('no such application request');
    if (request.status !== 'pending')
      throw new ConflictError('already-decided', `this request was already ${request.status} by ${request.decidedBy ?? 'someone'}`);
    return request;
  }

  private ruleFor(request: AppRequest, options: ApproveOptions): AppRule {
    const common = {
      id: `request-${request.id.slice(0, 8)}`,
      action: 'allow' as const,
      description: `${request.name}: requested by ${request.user ?? 'unknown user'} on ${request.hostname}`.slice(0, 500),
      ...(options.groups ? { groups: options.groups } : {}),
    };
    if (options.by === 'hash') return { ...common, kind: 'sha256', sha256: request.sha256 };
    const signer = signerRuleFields(request.signer);
    if (!signer) throw new InvalidError('no-signer', `the device reported the signer as "${request.signer}"; approve by hash instead`);
    return { ...common, kind: 'signer', ...signer };
  }
}
