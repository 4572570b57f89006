import type { StationRecord } from '../../shared/usb-policy.js';
import { parse } from '../args.js';
import { ApiClient } from '../client.js';
import { usageError } from '../errors.js';

export const STATION_HELP = `vigil station register --id ID --public-key BASE64 [--console URL]
  Trusts a scan station's Ed25519 key (\`vigil scan\` prints it). The key reaches every device
  inside the next signed policy version, which the console publishes and sends at once.
vigil station list [--json] [--console URL]
vigil station revoke <id> [--console URL]
  Devices stop accepting that station's flags as soon as they take the new policy version.
  Admins and Systems Managers.`;

type Change = { station: StationRecord; version: number | null; deliveredTo: number };

const published = (r: Change) =>
  r.version === null
    ? 'no policy published yet: the first policy you publish carries it'
    : `policy version ${r.version}, sent live to ${r.deliveredTo} connected device(s)`;

export async function runStation(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    { console: { type: 'string' }, id: { type: 'string' }, 'public-key': { type: 'string' }, json: { type: 'boolean' } },
    1,
  );
  if (sub === 'register') {
    if (!values.id || !values['public-key']) throw usageError('usage: vigil station register --id ID --public-key BASE64');
    const client = await ApiClient.fromEnvironment(values.console);
    const r = (await client.call('POST', '/api/v1/stations', { id: values.id, publicKey: values['public-key'] })) as Change;
    return void console.log(`registered station ${r.station.id} (key ${r.station.keyId}): ${published(r)}`);
  }
  if (sub === 'list') {
    const client = await ApiClient.fromEnvironment(values.console);
    const { stations } = (await client.call('GET', '/api/v1/stations')) as { stations: StationRecord[] };
    if (values.json) return void console.log(JSON.stringify(stations, null, 2));
    for (const s of stations) {
      const state = s.revokedAt ? `revoked ${s.revokedAt} by ${s.revokedBy ?? '?'}` : 'trusted';
      console.log(`${s.id}  ${s.keyId}  ${state}  registered ${s.registeredAt} by ${s.registeredBy}`);
    }
    return;
  }
  if (sub === 'revoke') {
    if (!positionals[0]) throw usageError('usage: vigil station revoke <id>');
    const client = await ApiClient.fromEnvironment(values.console);
    const r = (await client.call('POST', `/api/v1/stations/${encodeURIComponent(positionals[0])}/revoke`)) as Change;
    return void console.log(`revoked station ${r.station.id} (key ${r.station.keyId}): ${published(r)}`);
  }
  throw usageError(`unknown station command "${sub ?? ''}"; try: vigil station register|list|revoke`);
}
