/**
 * One-line, greppable log records on stderr: `time level component message {fields}`.
 * stdout is kept for what a person or a script is meant to read (banners, CLI results).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export function createLogger(component: string, minLevel: LogLevel = envLevel()): Logger {
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const extra = fields && Object.keys(fields).length ? ` ${safeJson(fields)}` : '';
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} [${component}] ${message}${extra}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (sub) => createLogger(`${component}/${sub}`, minLevel),
  };
}

function envLevel(): LogLevel {
  const level = process.env.VIGIL_LOG_LEVEL;
  return level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info';
}

function safeJson(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields, (_k, v) => (v instanceof Error ? v.message : v)).slice(0, 2000);
  } catch {
    return '{"log":"unserialisable fields"}';
  }
}
