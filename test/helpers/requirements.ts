/**
 * Tests that need root, fanotify, X tools or ClamAV are skipped, with the reason printed, on a
 * machine that lacks them. But `npm test` as root on Debian installs all of it, and then sets
 * VIGIL_TESTS_REQUIRE_ALL=1: a missing requirement there means the install broke, so the test
 * file fails instead of passing by skipping.
 */
export function skipReason(label: string, reason: string | null): string | null {
  if (reason === null) return null;
  if (process.env.VIGIL_TESTS_REQUIRE_ALL === '1') {
    throw new Error(`${label}: required here but unavailable: ${reason}`);
  }
  console.warn(`[${label}] skipped: ${reason}`);
  return reason;
}
