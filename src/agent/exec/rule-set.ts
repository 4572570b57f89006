import type { AppAction, AppRule, Applications, DeviceGroups } from '../../shared/app-rules.js';
import type { ExecAction, ExecRules } from '../../shared/exec.js';
import type { CompiledPathRule, CompiledRule, CompiledSignerRule, ExecRuleSet } from './decision.js';
import { globToRegExp } from '../path-glob.js';

export { globToRegExp };

/** Which rules this backend can evaluate. Linux: POSIX paths and SHA-256; no signers, no Authenticode. */
export interface BackendCapabilities {
  pathPlatform: 'posix' | 'windows';
  signers: boolean;
  authenticode: boolean;
}
export const LINUX_BACKEND: BackendCapabilities = { pathPlatform: 'posix', signers: false, authenticode: false };
/** The fallback watchers of macOS (codesign) and Windows (Authenticode) read signers. */
export const DARWIN_BACKEND: BackendCapabilities = { pathPlatform: 'posix', signers: true, authenticode: false };
export const WINDOWS_BACKEND: BackendCapabilities = { pathPlatform: 'windows', signers: true, authenticode: false };

/**
 * AppLocker path syntax -> RegExp: case-insensitive, `*` any characters (separators included),
 * AppLocker's variables expanded from `vars` (%WINDIR%, %SYSTEM32%, %PROGRAMFILES%, %OSDRIVE%).
 * Null when the pattern uses a variable this device cannot expand (%REMOVABLE%, %HOT%).
 */
export function windowsPatternToRegExp(pattern: string, vars: Readonly<Record<string, string>>): RegExp | null {
  let unknown = false;
  const expanded = pattern.replace(/%([A-Z0-9_]+)%/gi, (_, name: string) => {
    const value = vars[name.toUpperCase()];
    if (value === undefined) unknown = true;
    return value ?? '';
  });
  if (unknown) return null;
  const body = [...expanded.replaceAll('/', '\\')].map((c) => (c === '*' ? '.*' : c.replace(/[.+^$()|\\[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'is');
}

/** What was left out of a compiled rule set and why: reported, never silently dropped. */
export interface CompileReport {
  ruleCount: number;
  skipped: { ruleId: string | null; kind: AppRule['kind']; why: string }[];
  /** The earliest future expiry of an exception (ms), so the host can re-apply the policy then. */
  nextExpiry: number | null;
}

const toExec = (action: AppAction): ExecAction => (action === 'allow' ? 'allow' : 'deny');

/** The groups a device belongs to, from the policy's `groups` map. */
export function groupsOf(groups: DeviceGroups | undefined, deviceId: string | null): Set<string> {
  const mine = new Set<string>();
  if (!groups || !deviceId) return mine;
  for (const [name, members] of Object.entries(groups)) if (members.includes(deviceId)) mine.add(name);
  return mine;
}

interface Source {
  mode: ExecRules['mode'];
  defaultAction: ExecAction;
  allowSha256?: readonly string[];
  rules: readonly AppRule[];
  exceptions: readonly { rule: AppRule; reason: string; expiresAt: string }[];
}

/**
 * Compiles rules for one device and backend. Rules scoped to groups this device is not in, and
 * rules the backend cannot evaluate (Authenticode hashes, signers on Linux, another OS's paths),
 * are listed in the report instead of being matched.
 */
export function compileRuleSet(
  source: Source,
  context: { groups: ReadonlySet<string>; backend: BackendCapabilities; now?: number; windowsVars?: Readonly<Record<string, string>> },
): { ruleSet: ExecRuleSet; report: CompileReport } {
  const now = context.now ?? Date.now();
  const byHash = new Map<string, CompiledRule[]>();
  const signers: CompiledSignerRule[] = [];
  const paths: CompiledPathRule[] = [];
  const report: CompileReport = { ruleCount: 0, skipped: [], nextExpiry: null };
  const addHash = (sha256: string, rule: CompiledRule) => {
    const list = byHash.get(sha256);
    if (list) list.push(rule);
    else byHash.set(sha256, [rule]);
  };
  for (const sha256 of source.allowSha256 ?? []) addHash(sha256, { action: 'allow', exception: false, expiresAt: Infinity });

  const entries = [
    ...source.rules.map((rule) => ({ rule, expiresAt: Infinity, exception: false })),
    ...source.exceptions.map((e) => ({ rule: e.rule, expiresAt: Date.parse(e.expiresAt), exception: true })),
  ];
  for (const { rule, expiresAt, exception } of entries) {
    const skip = (why: string) => report.skipped.push({ ruleId: rule.id ?? null, kind: rule.kind, why });
    if (rule.groups && !rule.groups.some((g) => context.groups.has(g))) {
      skip(`scoped to ${rule.groups.join(', ')}; this device is in none of them`);
      continue;
    }
    if (expiresAt <= now) {
      skip('exception expired');
      continue;
    }
    const base: CompiledRule = { action: toExec(rule.action), exception, expiresAt, ...(rule.id ? { id: rule.id } : {}) };
    switch (rule.kind) {
      case 'sha256':
        addHash(rule.sha256, base);
        break;
      case 'authenticode-sha256':
        if (!context.backend.authenticode) {
          skip('an Authenticode hash can only be evaluated by the Windows backend');
          continue;
        }
        break; // evaluated by the Windows backend itself (AppLocker export), not here
      case 'signer': {
        if (!context.backend.signers) {
          skip('this platform reports no code signer, so signer rules cannot match');
          continue;
        }
        const { publisher, product, binaryName, teamId, signingId } = rule;
        signers.push({ ...base, signer: { publisher, product, binaryName, teamId, signingId } });
        break;
      }
      case 'path':
        if (rule.platform !== context.backend.pathPlatform) {
          skip(`a ${rule.platform} path pattern; this backend evaluates ${context.backend.pathPlatform} paths`);
          continue;
        }
        if (rule.platform === 'windows') {
          const pattern = windowsPatternToRegExp(rule.pattern, context.windowsVars ?? {});
          if (!pattern) {
            skip('a Windows path variable this device cannot expand');
            continue;
          }
          paths.push({ ...base, pattern });
        } else paths.push({ ...base, pattern: globToRegExp(rule.pattern) });
        break;
    }
    report.ruleCount++;
    if (exception && (report.nextExpiry === null || expiresAt < report.nextExpiry)) report.nextExpiry = expiresAt;
  }
  return { ruleSet: { mode: source.mode, defaultAction: source.defaultAction, byHash, signers, paths }, report };
}

/** A `vigil-exec-rules/1` file: no device identity, so group-scoped rules do not apply. */
export function ruleSetFromRules(rules: ExecRules, backend = LINUX_BACKEND): ExecRuleSet {
  return compileRuleSet(rules, { groups: new Set(), backend }).ruleSet;
}

/** A policy's `applications` section for one device. */
export function compileApplications(
  apps: Applications,
  groups: ReadonlySet<string>,
  backend = LINUX_BACKEND,
  now?: number,
  windowsVars?: Readonly<Record<string, string>>,
) {
  return compileRuleSet({ ...apps, defaultAction: toExec(apps.defaultAction) }, { groups, backend, now, ...(windowsVars ? { windowsVars } : {}) });
}

/**
 * The rules that apply on one device now: group scope resolved, live exceptions as rules (for
 * backends that take a plain rule list, such as an AppLocker export).
 */
export function deviceRules(apps: Pick<Applications, 'rules' | 'exceptions'>, groups: ReadonlySet<string>, now = Date.now()): AppRule[] {
  const applies = (rule: AppRule) => !rule.groups || rule.groups.some((g) => groups.has(g));
  const scoped = (rule: AppRule): AppRule => {
    const { groups: _groups, ...rest } = rule;
    return rest as AppRule;
  };
  const live = apps.exceptions.filter((e) => Date.parse(e.expiresAt) > now).map((e) => e.rule);
  return [...apps.rules, ...live].filter(applies).map(scoped);
}
