/**
 * Bridges the policy plane's version counter (async: a store transaction, shared with every
 * console process) to the publisher's `nextVersion` (sync: it numbers a signing in progress).
 * A version is allocated first, then the signing starts and takes it before its first await, so
 * two signings never share or swap versions; a version allocated but not taken is simply skipped
 * (versions only need to grow).
 */
export class PreallocatedVersions {
  private slot: number | null = null;

  constructor(private readonly allocate: () => Promise<number>) {}

  /** PublisherDeps.nextVersion: the version allocated for the signing under way. */
  readonly take = (): number => {
    if (this.slot === null) throw new Error('no policy version was allocated for this signing');
    const version = this.slot;
    this.slot = null;
    return version;
  };

  /** Allocates a version, then starts `sign`, which takes it (if it signs) before its first await. */
  async around<T>(sign: () => Promise<T>): Promise<T> {
    const version = await this.allocate();
    this.slot = version;
    // The slot is cleared as soon as `sign` reaches its first await (taken or not): never awaited here.
    const signing = sign();
    this.slot = null;
    return signing;
  }
}
