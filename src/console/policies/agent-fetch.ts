import { checkPolicyFetchHeader } from '../../shared/node/policy-fetch-auth.js';
import { POLICY_BUNDLE_PATH, POLICY_DELTA_PATH } from '../../shared/policies/delivery.js';
import type { PolicyPublisher } from './publisher.js';

/**
 * The console's answer to an agent's policy fetch (`GET /api/v1/agent/policy/bundle/<digest>` and
 * `/delta/<from>/<to>`), independent of the router that mounts it. The device proves who it is
 * with a `policy-fetch` signature; it gets only its own group set's current bundle, or a delta
 * to it, never another group's.
 */

export interface AgentFetchDeps {
  publisher: PolicyPublisher;
  /** The enrolled key of a device that is neither unknown nor revoked. */
  publicKeyOf(deviceId: string): Promise<string | null> | string | null;
  /** The device's current group-set key (merge.ts groupSetKey). */
  groupSetOf(deviceId: string): Promise<string | null> | string | null;
  now?: () => Date;
}

export interface FetchAnswer {
  status: 200 | 401 | 403 | 404;
  headers: Record<string, string>;
  body: Buffer | string;
}

const DIGEST = '([0-9a-f]{64})';
const BUNDLE = new RegExp(`^${POLICY_BUNDLE_PATH}/${DIGEST}$`);
const DELTA = new RegExp(`^${POLICY_DELTA_PATH}/${DIGEST}/${DIGEST}$`);

const refuse = (status: FetchAnswer['status'], message: string): FetchAnswer => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: message,
});
const bytes = (body: Buffer, encoding: string): FetchAnswer => ({
  status: 200,
  // Named by digest: the same path always means the same bytes.
  headers: {
    'content-type': 'application/octet-stream',
    'x-vigil-encoding': encoding,
    'cache-control': 'private, max-age=31536000, immutable',
    'content-length': String(body.length),
  },
  body,
});

export async function answerPolicyFetch(path: string, authorization: string | undefined, deps: AgentFetchDeps): Promise<FetchAnswer> {
  const bundle = BUNDLE.exec(path);
  const delta = bundle ? null : DELTA.exec(path);
  if (!bundle && !delta) return refuse(404, 'no such policy resource');
  const auth = await checkPolicyFetchHeader(authorization, path, deps.publicKeyOf, deps.now?.());
  if (!auth.ok) return refuse(401, auth.detail);
  const key = await deps.groupSetOf(auth.deviceId);
  const target = bundle ? bundle[1]! : delta![2]!;
  if (key === null || !deps.publisher.servesTo(key, target)) return refuse(403, 'this policy is not the one for this device');
  if (bundle) {
    const encoded = await deps.publisher.bundleBytes(target);
    return encoded ? bytes(encoded.bytes, encoded.encoding) : refuse(404, 'no such bundle');
  }
  const blob = await deps.publisher.deltaBytes(delta![1]!, target);
  return blob ? bytes(blob.bytes, blob.encoding) : refuse(404, 'no delta between these versions; fetch the bundle');
}
