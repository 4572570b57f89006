import type { SettingsStore } from '../store/store.js';

/** Days a signed policy bundle is valid, as the last `vigil policy push --expires-in-days` asked. */
export const LIFETIME_SETTING = 'policy.lifetime-days';
const DEFAULT_LIFETIME_DAYS = 90;

/**
 * The bundle lifetime the publisher signs with: read from the store before each signing (another
 * console process may have changed it), used synchronously while signing.
 */
export class PolicyLifetime {
  private days = DEFAULT_LIFETIME_DAYS;

  constructor(private readonly store: SettingsStore) {}

  async load(): Promise<void> {
    this.days = Number(await this.store.getSetting(LIFETIME_SETTING)) || DEFAULT_LIFETIME_DAYS;
  }

  readonly ms = (): number => this.days * 86400_000;
}
