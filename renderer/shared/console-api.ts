import type { z } from 'zod';

/** Same-origin JSON calls to the console; the session cookie authenticates them. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, { credentials: 'same-origin', ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

export type ApiResult<T> = { ok: true; data: T } | { ok: false; status: number; message: string };

/** Calls the API and validates the answer with the shared schema; errors come back as words. */
export async function apiJson<S extends z.ZodType>(schema: S, path: string, init: RequestInit = {}): Promise<ApiResult<z.infer<S>>> {
  let res: Response;
  try {
    res = await api(path, init);
  } catch {
    return { ok: false, status: 0, message: 'the console could not be reached' };
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const message = (body as { message?: unknown } | null)?.message;
    return { ok: false, status: res.status, message: typeof message === 'string' ? message : `the console answered ${res.status}` };
  }
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, data: parsed.data }
    : { ok: false, status: res.status, message: 'the console sent an answer this page does not understand' };
}

/**
 * Device text may carry bidirectional controls (U+202E and friends) that make a title display
 * reversed or disguised; they are shown as U+FFFD instead. Every device string on the page goes
 * through here (el, row and the grid's cells).
 */
// eslint-disable-next-line no-misleading-character-class
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export function visible(text: string): string {
  return text.replace(BIDI_CONTROLS, '\uFFFD');
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', className = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = visible(text);
  if (className) node.className = className;
  return node;
}

export function row(cells: (string | HTMLElement)[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = tr.insertCell();
    if (typeof c === 'string') td.textContent = visible(c);
    else td.append(c);
  }
  return tr;
}
