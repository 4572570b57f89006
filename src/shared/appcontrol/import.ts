import type { AppAction, AppException, AppRule, ExecMode } from '../app-rules.js';
import { AppRuleSchema, MAX_APP_RULES } from '../app-rules.js';
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

/**
 * Adds a rule an importer built, holding the policy's own limit: a file that would make more
 * rules than a policy may hold is refused at the line of the first rule too many, by name,
 * rather than producing rules that `policy validate` then refuses.
 */
export function addRule(result: RuleImport, candidate: unknown, line: number): void {
  if (result.rules.length >= MAX_APP_RULES) {
    throw new ImportError(
      `more than ${MAX_APP_RULES.toLocaleString('en')} rules: a policy holds at most ${MAX_APP_RULES.toLocaleString('en')} (the policy's rule limit)`,
      line,
    );
  }
  result.rules.push(checkedRule(candidate, line));
}
