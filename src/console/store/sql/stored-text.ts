import { inflate } from '../../../shared/node/policy-bundle-codec.js';
import { BundleEncodingSchema } from '../../../shared/policies/delivery.js';

/**
 * A text a row holds in one of two columns: as it is, or compressed in a second column with its
 * `encoding` (signed bundles, large policy revisions). `limit` caps what it inflates to, so a
 * corrupt row cannot fill memory.
 */
export function storedText(text: string, encoded: Buffer | null, encoding: string | null, limit: number): string {
  return encoded ? inflate(encoded, BundleEncodingSchema.parse(encoding), limit).toString('utf8') : text;
}
