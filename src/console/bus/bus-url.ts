/**
 * Where the console's NATS bus is and how to sign in to it, from `--bus` (and the environment):
 * `nats://host:4222`, `tls://host:4222` (TLS required), with `user:password@` or `token@` in the
 * URL or, to keep them off the command line, VIGIL_BUS_USER + VIGIL_BUS_PASSWORD or
 * VIGIL_BUS_TOKEN; a CA file to check the server's certificate by (`--bus-ca` or VIGIL_BUS_CA;
 * given one, TLS is required whatever the scheme). Credentials never appear in `shown`, which is
 * what logs and errors name.
 */
export interface NatsTarget {
  /** `host:port`, without credentials. */
  server: string;
  user?: string;
  pass?: string;
  token?: string;
  /** TLS required, the server's certificate checked against this CA (or the system's). */
  tls?: { caFile?: string };
  /** The URL without credentials, for logs and errors. */
  shown: string;
}

export const NATS_DEFAULT_PORT = 4222;

/** The target, or a sentence saying what is wrong with the URL (never quoting its credentials). */
export function parseBusUrl(url: string, env: NodeJS.ProcessEnv = {}, caFile: string | undefined = env.VIGIL_BUS_CA): NatsTarget | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '--bus must be a URL: nats://host:4222 or tls://host:4222';
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'nats' && scheme !== 'tls') return '--bus must be a nats:// or tls:// URL (nats://host:4222)';
  if (!parsed.hostname) return '--bus needs a host (nats://host:4222)';
  if ((parsed.pathname && parsed.pathname !== '/') || parsed.search || parsed.hash) return '--bus takes no path or query: nats://[user:password@]host:port';
  const port = parsed.port ? Number(parsed.port) : NATS_DEFAULT_PORT;
  const server = `${parsed.hostname}:${port}`;
  const target: NatsTarget = { server, shown: `${scheme}://${server}` };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (user && password) Object.assign(target, { user, pass: password });
  else if (user) target.token = user;
  else if (env.VIGIL_BUS_TOKEN) target.token = env.VIGIL_BUS_TOKEN;
  else if (env.VIGIL_BUS_USER || env.VIGIL_BUS_PASSWORD) {
    if (!env.VIGIL_BUS_USER || !env.VIGIL_BUS_PASSWORD) return 'VIGIL_BUS_USER and VIGIL_BUS_PASSWORD go together';
    Object.assign(target, { user: env.VIGIL_BUS_USER, pass: env.VIGIL_BUS_PASSWORD });
  }
  if (scheme === 'tls' || caFile) target.tls = caFile ? { caFile } : {};
  return target;
}
