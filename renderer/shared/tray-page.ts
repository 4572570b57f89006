import type { z } from 'zod';
import type { BridgeResult, TrayBridge } from '../../src/shared/tray-bridge.js';

/**
 * What every tray page shares: the bridge (window.vigilTray from the preload, a stub in tests),
 * calls whose answers are checked with the shared schemas, and errors shown where the pupil
 * sees them (an element with role="alert").
 */
declare global {
  interface Window {
    vigilTray?: Partial<TrayBridge>;
  }
}

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Calls one bridge method; a missing bridge, a thrown error or an unreadable answer become a message. */
export async function callBridge<S extends z.ZodType>(
  method: keyof TrayBridge,
  schema: S,
  arg?: unknown,
): Promise<z.infer<S> extends BridgeResult<infer T> ? BridgeResult<T> : never> {
  type R = z.infer<S> extends BridgeResult<infer T> ? BridgeResult<T> : never;
  const fn = window.vigilTray?.[method] as ((arg?: unknown) => Promise<unknown>) | undefined;
  if (!fn) return { ok: false, message: 'This page must be opened from the Vigil app.' } as R;
  let raw: unknown;
  try {
    raw = await fn(arg);
  } catch (error) {
    return { ok: false, message: `Vigil could not do that: ${(error as Error).message}` } as R;
  }
  const parsed = schema.safeParse(raw);
  return (parsed.success ? parsed.data : { ok: false, message: 'Vigil sent an answer this page cannot read. Please tell your teacher.' }) as R;
}

export function showError(message: string): void {
  $('error').textContent = message;
}

/** The Close button: asks main to close this window. */
export function wireClose(): void {
  $('close').addEventListener('click', () => void window.vigilTray?.close?.());
}
