// A real OpenID provider for the sign-in tests: the certified `oidc-provider` package, run as its
// own process on a random loopback port. It stands in for Microsoft Entra ID / Google Workspace.
//
// Configuration comes as JSON in VIGIL_TEST_OP (clients, people and their claims). The login
// page is oidc-provider's own development login (any login name, any password): the login name
// picks the person. Consent is pre-granted, as a tenant admin's consent would be.
//
// For the hostile cases the test asks (POST /__test/tamper {mode}) that the NEXT token response
// be altered in exactly one way and re-signed with this provider's own key, so every other check
// still passes: 'signature' (one byte of the signature changed, not re-signed), 'issuer',
// 'audience', 'expired', 'nonce' (the nonce of the token issued before this one).
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const spec = JSON.parse(process.env.VIGIL_TEST_OP ?? '{}');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
let tamper = null;
let previousNonce = null;

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: spec.clients,
  jwks: { keys: [jwk] },
  claims: {
    openid: ['sub', 'groups', 'tid', 'hd'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  // Claims of the requested scopes go in the id_token, as Entra ID and Google put them there.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 120, Interaction: 600, Session: 600, Grant: 600 },
  // The login name picks the person and is their subject (`sub`).
  async findAccount(_ctx, id) {
    if (!spec.people?.[id]) return undefined;
    return { accountId: id, claims: async () => ({ ...spec.people[id], sub: id }) };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    tamper = JSON.parse(Buffer.concat(chunks).toString()).mode ?? null;
    ctx.body = { ok: true, mode: tamper };
    return;
  }
  if (ctx.path === '/__test/person' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const { id, claims } = JSON.parse(Buffer.concat(chunks).toString());
    spec.people[id] = claims;
    ctx.body = { ok: true };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    const original = ctx.body.id_token;
    const nonce = claimsOf(original).nonce;
    if (tamper) ctx.body = { ...ctx.body, id_token: alter(original, tamper) };
    console.log(`token issued${tamper ? ` (tampered: ${tamper})` : ''}`);
    tamper = null;
    previousNonce = nonce;
  }
});

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

function alter(jwt, mode) {
  const [header, , signature] = jwt.split('.');
  const claims = claimsOf(jwt);
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'signature') {
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] ^= 0x01;
    return `${jwt.split('.').slice(0, 2).join('.')}.${bytes.toString('base64url')}`;
  }
  if (mode === 'issuer') claims.iss = 'https://login.microsoftonline.com/another-tenant/v2.0';
  else if (mode === 'audience') claims.aud = 'some-other-app';
  else if (mode === 'expired') Object.assign(claims, { iat: now - 3600, exp: now - 1800 });
  else if (mode === 'nonce') claims.nonce = previousNonce;
  else throw new Error(`unknown tamper mode ${mode}`);
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  return `${header}.${body}.${sign('sha256', Buffer.from(`${header}.${body}`), key).toString('base64url')}`;
}

server.on('request', provider.callback());
console.log(`oidc provider listening on ${issuer}`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
