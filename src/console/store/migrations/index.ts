import { migration as m1 } from './0001_initial.js';
import { migration as m2 } from './0002_aups.js';
import { migration as m3 } from './0003_app_requests.js';
import { migration as m4 } from './0004_stations_and_history.js';
import { migration as m5 } from './0005_concerns.js';
import { migration as m6 } from './0006_policy_plane.js';
import { migration as m7 } from './0007_sign_in_14.js';
import { migration as m8 } from './0008_policy_sets_16.js';
import { migration as m9 } from './0009_reserved.js';
import { migration as m10 } from './0010_presence_lease_17.js';
import { migration as m11 } from './0011_compressed_bundles_16.js';
import { migration as m12 } from './0012_revision_runs_16.js';
import { migration as m13 } from './0013_compressed_revisions_16.js';
import type { ConsoleMigration } from './migration.js';

/**
 * The console schema, one file per step for both engines (never edit a released step: add the
 * next one, with its SQLite and PostgreSQL text: migration.ts).
 */
export const CONSOLE_MIGRATIONS: readonly ConsoleMigration[] = [m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13];
