import type { KeyObject } from 'node:crypto';
import { describeFetchError } from '../shared/fetch-error.js';
import type { PolicyBundle } from '../shared/policy.js';
import { decodeBundle, decodeDelta, type DeliveryCheck, type TrustContext } from '../shared/node/policy-bundle-codec.js';
import { policyFetchHeader } from '../shared/node/policy-fetch-auth.js';
import { policyDigest } from '../shared/node/policy-verify.js';
import { bundlePath, deltaPath, type DeliveryProblem, type PolicyAvailableMessage } from '../shared/policies/delivery.js';
import type { BundleRejection } from '../shared/node/policy-verify.js';

/**
 * The agent's side of notify-then-fetch: told over the WebSocket that a version exists, it fetches
 * the delta (when one is offered from the digest it holds) or the full bundle over HTTP(S), signed
 * with its device key, reading no more bytes than were announced. A delta that is not taken for
 * any reason is reported and the full bundle fetched. Nothing here closes the WebSocket: the
 * caller reports every problem as an event and keeps its link.
 */

export interface PolicyFetchDeps {
  consoleUrl: string;
  deviceId: string;
  key: { privateKey: KeyObject | string; publicKey: string };
  timeoutMs?: number;
}

export interface FetchProblem {
  via: 'delta' | 'full';
  problem: DeliveryProblem | BundleRejection;
  detail: string;
}

export type FetchOutcome = { ok: true; bundle: PolicyBundle; via: 'delta' | 'full'; problems: FetchProblem[] } | { ok: false; problems: FetchProblem[] };

class FetchFailure extends Error {
  constructor(
    readonly problem: DeliveryProblem,
    detail: string,
  ) {
    super(detail);
  }
}

async function fetchBytes(path: string, limit: number, deps: PolicyFetchDeps): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(new URL(path, deps.consoleUrl), {
      headers: { authorization: policyFetchHeader(deps.deviceId, path, deps.key) },
      signal: AbortSignal.timeout(deps.timeoutMs ?? 120_000),
    });
  } catch (error) {
    throw new FetchFailure('fetch-failed', `cannot reach the console: ${describeFetchError(error)}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new FetchFailure('fetch-failed', `the console answered ${response.status}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    // A console that stops sending (or the timeout) ends the fetch as a passing failure, never an exception.
    const { done, value } = await reader.read().catch((error: unknown) => {
      throw new FetchFailure('fetch-failed', `the transfer stopped: ${describeFetchError(error)}`);
    });
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new FetchFailure('compressed-digest-mismatch', `the console sent more than the ${limit} bytes announced`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks, total);
}

async function attempt(path: string, limit: number, decode: (bytes: Buffer) => DeliveryCheck, deps: PolicyFetchDeps): Promise<DeliveryCheck> {
  try {
    return decode(await fetchBytes(path, limit, deps));
  } catch (error) {
    if (error instanceof FetchFailure) return { ok: false, problem: error.problem, detail: error.message };
    throw error;
  }
}

export async function fetchAnnouncedPolicy(
  notice: PolicyAvailableMessage,
  held: PolicyBundle | null,
  trust: TrustContext,
  deps: PolicyFetchDeps,
): Promise<FetchOutcome> {
  const problems: FetchProblem[] = [];
  if (notice.delta && held && policyDigest(held.payload) === notice.delta.fromDigest) {
    const { inline } = notice.delta;
    // A small delta came in the notice: its bytes are checked exactly as fetched ones would be.
    const result = inline
      ? decodeDelta(Buffer.from(inline, 'base64'), notice, held, trust)
      : await attempt(deltaPath(notice.delta.fromDigest, notice.digest), notice.delta.size, (bytes) => decodeDelta(bytes, notice, held, trust), deps);
    if (result.ok) return { ok: true, bundle: result.bundle, via: 'delta', problems };
    problems.push({ via: 'delta', problem: result.problem, detail: result.detail });
  }
  const result = await attempt(bundlePath(notice.digest), notice.compressed.size, (bytes) => decodeBundle(bytes, notice, trust), deps);
  if (result.ok) return { ok: true, bundle: result.bundle, via: 'full', problems };
  problems.push({ via: 'full', problem: result.problem, detail: result.detail });
  return { ok: false, problems };
}
