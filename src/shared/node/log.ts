import { pino, stdSerializers, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * Structured log records on stderr (pino). stdout is kept for what a person or a script is meant to
 * read (banners, CLI results). On a terminal each record is one readable line,
 * `time LEVEL [component] message {fields}` with an error's stack below it; otherwise (a service's
 * journal, a log file, a pipe) one JSON object per line. VIGIL_LOG_FORMAT=json|pretty chooses.
 * Errors passed as fields keep their stack; secrets passed as fields are replaced by "[redacted]".
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LogOutput {
  format?: LogFormat;
  /** Where lines go (stderr unless given): a test reads them back. */
  write?: (line: string) => void;
}

/** Field names whose values never reach a log, at the top level or one object down. */
export const REDACTED_FIELDS = [
  'password',
  'adminPassword',
  'token',
  'enrollToken',
  'deviceToken',
  'secret',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'privateKey',
  'apiKey',
];
const REDACT_PATHS = REDACTED_FIELDS.flatMap((k) => (/^\w+$/.test(k) ? [k, `*.${k}`] : [`["${k}"]`, `*["${k}"]`]));

/** Long strings (a hostile frame quoted in a warning) are cut so one record stays bounded. */
const MAX_STRING = 2000;

export function createLogger(component: string, minLevel: LogLevel = envLevel(), output: LogOutput = {}): Logger {
  const format = output.format ?? envFormat();
  const root = pino(
    {
      level: 'debug',
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination(format, output.write),
  );
  return wrap(root, component, minLevel);
}

function wrap(root: PinoLogger, component: string, minLevel: LogLevel): Logger {
  const log = root.child({ component });
  log.level = minLevel;
  const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (fields && Object.keys(fields).length) log[level](prepare(fields), message);
    else log[level](message);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (sub) => wrap(root, `${component}/${sub}`, minLevel) };
}

/** Errors become { type, message, stack, … } (JSON.stringify would give {}); long strings are cut. */
function prepare(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) out[key] = stdSerializers.err(value);
    else if (typeof value === 'string' && value.length > MAX_STRING) out[key] = `${value.slice(0, MAX_STRING)}…`;
    else out[key] = value;
  }
  return out;
}

let stderrJson: DestinationStream | null = null;

function destination(format: LogFormat, write: ((line: string) => void) | undefined): DestinationStream {
  if (format === 'pretty') {
    const out = write ?? ((line: string) => process.stderr.write(line));
    return { write: (record: string) => out(prettyLine(record)) };
  }
  if (write) return { write };
  // Synchronous, so the records just before an exit are not lost.
  return (stderrJson ??= pino.destination({ dest: 2, sync: true }));
}

interface SerialisedError {
  message: string;
  stack: string;
}
const isSerialisedError = (v: unknown): v is SerialisedError =>
  typeof v === 'object' && v !== null && typeof (v as SerialisedError).stack === 'string' && typeof (v as SerialisedError).message === 'string';

/** One pino JSON record as `time LEVEL [component] message {fields}`, error stacks indented below. */
export function prettyLine(record: string): string {
  const { time, level, component, msg, ...fields } = JSON.parse(record) as Record<string, unknown>;
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (!isSerialisedError(value)) continue;
    fields[key] = value.message;
    stacks.push(value.stack.replace(/^/gm, '    '));
  }
  const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
  return `${String(time)} ${String(level).toUpperCase()} [${String(component)}] ${String(msg)}${extra}\n${stacks.map((s) => `${s}\n`).join('')}`;
}

function envLevel(): LogLevel {
  const level = process.env.VIGIL_LOG_LEVEL;
  return level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info';
}

function envFormat(): LogFormat {
  const format = process.env.VIGIL_LOG_FORMAT;
  if (format === 'json' || format === 'pretty') return format;
  return process.stderr.isTTY ? 'pretty' : 'json';
}
