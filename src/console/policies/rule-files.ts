import type { RuleFileFormatSchema } from '../../shared/policies/import-api.js';
import type { RuleRecord } from '../../shared/policies/model.js';
import { importRulesCsv } from '../../shared/appcontrol/csv-rules.js';
import { ImportError, type RuleImport } from '../../shared/appcontrol/import.js';
import { importSanta } from '../../shared/appcontrol/santa.js';
import { importAppLocker } from '../../shared/node/appcontrol/applocker.js';
import { HttpError } from '../http/http-error.js';
import type { z } from 'zod';

/**
 * A rule file uploaded on the Policies page, read with the importers `vigil app-rules import`
 * uses. A file that cannot be read is a 400 naming the line; what it holds becomes console
 * rule records (a later file push may not drop them silently), exceptions keeping their expiry.
 */
export function readRuleFile(format: z.infer<typeof RuleFileFormatSchema>, bytes: Buffer): RuleImport {
  try {
    if (format === 'applocker') return importAppLocker(bytes);
    const text = bytes.toString('utf8');
    return format === 'santa' ? importSanta(text) : importRulesCsv(text);
  } catch (error) {
    if (error instanceof ImportError) throw new HttpError(400, 'invalid-file', `the ${format} file could not be read: ${error.message}`);
    throw error;
  }
}

export function importedRecords(file: RuleImport, by: { actor: string; at: string; reason: string }): RuleRecord[] {
  const base = { author: by.actor, addedAt: by.at, origin: 'console' as const };
  return [
    ...file.rules.map((rule) => ({ ...base, rule, exception: false, reason: by.reason })),
    ...file.exceptions.map((e) => ({ ...base, rule: e.rule, exception: true, reason: e.reason, expiresAt: e.expiresAt })),
  ];
}

/** The notes to show: the importer's, and one saying that an import changes rules only. */
export function importNotes(file: RuleImport): { line: number; message: string }[] {
  const settings = [file.mode ? `mode ${file.mode}` : '', file.defaultAction ? `default action ${file.defaultAction}` : ''].filter(Boolean);
  return [
    ...file.notes,
    ...(settings.length ? [{ line: 0, message: `the file sets ${settings.join(' and ')}: an import adds rules only; change those in the policy's settings` }] : []),
  ];
}
