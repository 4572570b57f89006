import type { AppAction, AppException, AppRule, ExecMode } from '../app-rules.js';
import { AppRuleSchema } from '../app-rules.js';
import { summariseZodError } from '../zod-errors.js';

/**
 * What every importer returns. Anything in the source that Vigil cannot represent exactly is a
 * note with its line number: never silently dropped, never silently widened.
 */
export interface ImportNote {
  line: number;
  message: string;
}
export interface RuleImport {
  rules: AppRule[];
  exceptions: AppException[];
  mode?: ExecMode;
  defaultAction?: AppAction;
  notes: ImportNote[];
}

/** A file that cannot be read at all: the first problem, with its line. */
export class ImportError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column?: number,
  ) {
    super(`line ${line}${column ? `, column ${column}` : ''}: ${detail}`);
  }
}

/** Validates one rule an importer built; an invalid one is an error at the source line. */
export function checkedRule(candidate: unknown, line: number): AppRule {
  const parsed = AppRuleSchema.safeParse(candidate);
  if (!parsed.success) throw new ImportError(summariseZodError(parsed.error), line);
  return parsed.data;
}
