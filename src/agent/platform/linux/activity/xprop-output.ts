/**
 * Parsing what `xprop` prints for the foreground-window properties. We ask for strings as
 * byte lists (`-f PROP 8c`: "WM_NAME(STRING) = 104, 105"), so a title can hold quotes, commas,
 * newlines or invalid UTF-8 and still parse unambiguously; the bytes are decoded by their X
 * type (STRING is Latin-1, UTF8_STRING is UTF-8 with bad bytes replaced).
 */

/** The properties we read from the active window, and the xprop arguments that print them. */
export const WINDOW_PROPERTIES = ['_NET_WM_NAME', 'WM_NAME', 'WM_CLASS', '_NET_WM_PID'] as const;
export type WindowProperty = (typeof WINDOW_PROPERTIES)[number];
/** Longest property value read, in bytes (xprop's `-len`). */
export const PROPERTY_BYTES = 4096;

/** With `full` false only the class is asked for (app-only mode: no title, no pid for a path). */
export function windowSpyArgs(windowId: number, full: boolean): string[] {
  const props = full ? WINDOW_PROPERTIES : (['WM_CLASS'] as const);
  const formats = props.flatMap((p) => (p === '_NET_WM_PID' ? [] : ['-f', p, '8c']));
  return ['-id', `0x${windowId.toString(16)}`, '-spy', '-len', String(PROPERTY_BYTES), ...formats, ...props];
}

export const ROOT_SPY_ARGS = ['-root', '-spy', '-f', '_NET_ACTIVE_WINDOW', '32x', ' $0\\n', '_NET_ACTIVE_WINDOW'];

/** `_NET_ACTIVE_WINDOW(WINDOW) 0x40000c` -> 0x40000c; 0 for "no window"; null if not that line. */
export function parseActiveWindowLine(line: string): number | null {
  const m = /^_NET_ACTIVE_WINDOW\(WINDOW\)\s+(0x[0-9a-fA-F]{1,8})\s*$/.exec(line);
  return m ? parseInt(m[1]!, 16) : null;
}

export type PropertyUpdate = { name: WindowProperty; value: string | number | string[] | null };

const utf8 = new TextDecoder('utf-8', { fatal: false });

function decodeBytes(type: string, bytes: Uint8Array): string {
  return type === 'UTF8_STRING' ? utf8.decode(bytes) : Buffer.from(bytes).toString('latin1');
}

/**
 * One line of `xprop -id W ...` output: the property's new value, null when the window does
 * not have it ("not found."), or undefined for anything else (which is ignored).
 */
export function parsePropertyLine(line: string): PropertyUpdate | undefined {
  const missing = /^([A-Z_]+):\s+not found\.$/.exec(line);
  if (missing) return isProperty(missing[1]!) ? { name: missing[1]!, value: null } : undefined;
  const m = /^([A-Z_]+)\(([A-Z0-9_]+)\) = ?(.*)$/.exec(line);
  if (!m || !isProperty(m[1]!)) return undefined;
  const [, name, type, rest] = m as unknown as [string, WindowProperty, string, string];
  if (name === '_NET_WM_PID') {
    const pid = /^\d{1,10}$/.test(rest.trim()) ? Number(rest.trim()) : NaN;
    return { name, value: Number.isSafeInteger(pid) && pid > 0 ? pid : null };
  }
  const numbers = rest.trim() === '' ? [] : rest.split(',').map((s) => Number(s.trim()));
  if (!numbers.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) return undefined;
  const bytes = Uint8Array.from(numbers);
  if (name === 'WM_CLASS') {
    // instance NUL class NUL
    const parts: string[] = [];
    let from = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0) {
        if (i > from) parts.push(decodeBytes(type, bytes.subarray(from, i)));
        from = i + 1;
      }
    }
    return { name, value: parts };
  }
  return { name, value: decodeBytes(type, bytes) };
}

function isProperty(name: string): name is WindowProperty {
  return (WINDOW_PROPERTIES as readonly string[]).includes(name);
}

/** The foreground window as far as its properties say: app (WM_CLASS class), title, pid. */
export function windowFromProperties(
  props: ReadonlyMap<WindowProperty, PropertyUpdate['value']>,
): { app: string; title: string | null; pid: number | null } | null {
  const wmClass = props.get('WM_CLASS');
  const classes = Array.isArray(wmClass) ? wmClass : [];
  const title = props.get('_NET_WM_NAME') ?? props.get('WM_NAME');
  const pid = props.get('_NET_WM_PID');
  // Like get-windows (owner.name), the class ("XTerm") names the app; the instance is the fallback.
  const app = classes[1] ?? classes[0] ?? null;
  if (app === null && typeof title !== 'string') return null;
  return { app: app ?? 'unknown', title: typeof title === 'string' ? title : null, pid: typeof pid === 'number' ? pid : null };
}
