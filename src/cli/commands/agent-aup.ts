import { existsSync } from 'node:fs';
import { AcceptanceRecords } from '../../agent/aup/acceptances.js';
import { AupStore } from '../../agent/aup/aup-store.js';
import { AupGate, aupToShow } from '../../agent/aup/gate.js';
import { loadOrCreateDeviceKey, paths, readDeviceFile } from '../../agent/identity.js';
import { Outbox } from '../../agent/outbox.js';
import { PolicyStore } from '../../agent/policy-store.js';
import { aupHash } from '../../shared/node/aup-verify.js';
import { createLogger } from '../../shared/node/log.js';
import { intOption, parse } from '../args.js';
import { CliError, usageError } from '../errors.js';

export const AGENT_AUP_HELP = `vigil agent aup status --user NAME [--data-dir DIR]
  Whether NAME must still accept the AUP on this device, from what the device knows (its own
  receipts, and acceptances elsewhere the console told it about); the console is not asked.
vigil agent aup accept --user NAME --name "TYPED NAME" [--data-dir DIR] [--version N --hash H]
  Records NAME's acceptance of the AUP this device holds, as the AUP window does: a receipt
  signed with the device key, kept locally and queued for the console (the running service
  sends it). For administrators and testing; --version/--hash name the text that was shown
  (default: the one held), and anything but the held text is refused.`;

export async function runAgentAup(argv: string[], dataDirDefault: string): Promise<void> {
  const [action, ...rest] = argv;
  if (action !== 'status' && action !== 'accept') throw usageError('vigil agent aup: expected "status" or "accept"');
  const { values } = parse(rest, {
    'data-dir': { type: 'string' },
    user: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    hash: { type: 'string' },
  });
  const dataDir = values['data-dir'] ?? dataDirDefault;
  if (!values.user) throw usageError('--user is required');
  const device = readDeviceFile(dataDir);
  if (!device || !existsSync(paths(dataDir).outbox)) throw new CliError(`no enrolled agent in ${dataDir}: start the agent once first`);
  const p = paths(dataDir);
  const key = loadOrCreateDeviceKey(dataDir);
  const policy = new PolicyStore(p.policy, device.consolePublicKey);
  const aups = new AupStore(p.aup, device.consolePublicKey);
  const records = new AcceptanceRecords(p.aupAcceptances);
  const outbox = new Outbox(p.outbox);
  const aup = () => aupToShow(policy.bundle, aups.aup);
  const gate = new AupGate({
    deviceId: key.deviceId,
    key,
    aup,
    school: () => '',
    records,
    // The CLI never talks to the console: what the device knows is the answer.
    askConsole: async () => ({ kind: 'offline' }),
    emit: (event) => void outbox.append([event]),
    logoff: async () => ({ ok: false, detail: 'the command line does not sign anyone out' }),
    log: createLogger('aup'),
  });
  try {
    if (action === 'status') {
      const decision = await gate.decide(values.user);
      if (!decision.needed) console.log(`${values.user}: AUP not needed (${decision.reason})`);
      else console.log(`${values.user}: AUP needed (${decision.reason}): ${decision.page.variant} version ${decision.page.version}`);
      return;
    }
    const held = aup();
    if (!held) throw new CliError('this device has no AUP to accept (the policy names none, or it has not arrived yet)');
    if (values.name === undefined) throw usageError('--name is required (the name the pupil typed)');
    const result = await gate.accept(values.user, {
      typedName: values.name,
      variant: held.payload.variant,
      version: intOption(values.version, 'version', 1, 2 ** 31 - 1, held.payload.version),
      aupHash: values.hash ?? aupHash(held.payload),
    });
    if (!result.ok) throw new CliError(`acceptance refused: ${result.message}`);
    console.log(`recorded ${values.user}'s acceptance of ${held.payload.variant} version ${held.payload.version}; queued for the console`);
  } finally {
    outbox.close();
    records.close();
  }
}
