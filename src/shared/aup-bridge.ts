import { z } from 'zod';
import { AupVariantSchema, TypedNameSchema } from './aup.js';

/**
 * The AUP page's bridge to the session agent (Electron preload in the tray app; a stub in
 * tests). Every value crossing it is checked with these schemas on both sides.
 */
export const AupPageDataSchema = z.strictObject({
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  /** Identifies the exact text shown; the acceptance names it back. */
  aupHash: z.string().regex(/^[0-9a-f]{64}$/),
  title: z.string().min(1).max(200),
  markdown: z.string().min(1).max(200_000),
  /** The school's name, shown in the heading. */
  school: z.string().max(120),
  /** The signed-in account, e.g. "jsmith". */
  user: z.string().max(128),
  /** True when the console is out of reach: the receipt will be queued. */
  offline: z.boolean(),
});
export type AupPageData = z.infer<typeof AupPageDataSchema>;

export const AupAcceptRequestSchema = z.strictObject({
  typedName: TypedNameSchema,
  /** The text the page showed: a page left open across an update or a variant change is refused. */
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  aupHash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AupAcceptRequest = z.infer<typeof AupAcceptRequestSchema>;

export const AupBridgeResultSchema = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true) }),
  z.strictObject({ ok: z.literal(false), message: z.string().max(500) }),
]);
export type AupBridgeResult = z.infer<typeof AupBridgeResultSchema>;

export interface AupBridge {
  load(): Promise<unknown>;
  accept(request: AupAcceptRequest): Promise<unknown>;
  /** The pupil declined: the session agent signs them out. */
  decline(): Promise<unknown>;
}
