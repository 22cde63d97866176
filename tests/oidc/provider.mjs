// A real OpenID Connect provider (the `oidc-provider` package) for the integration tests, started
// by tests/it/oidc_provider.rs. It is test equipment only: nothing here is safe for production.
//
// Configuration: a JSON file named by the first argument, else the JSON text in the environment
// variable OIDC_PROVIDER_CONFIG:
//
//   { "port": 0,                       // optional; 0 (the default) picks a free port
//     "clients": [ { "client_id", "client_secret", "redirect_uris": [...], ...other metadata } ],
//     "accounts": [ { "sub", "email", "email_verified", "name", "groups": [...] } ] }
//
// When it listens it prints one line, `ready <issuer-url>`, on standard output.
//
// Sign-in uses the package's development interactions: the login form's "login" field is the
// account's `sub` (any password). Consent never blocks: every request is granted the scopes it
// asks for. PKCE (S256) is required of every client.
//
// Test-only endpoints (JSON bodies, answered with JSON):
//   POST /test/rotate        {"keep_old": bool}  a new signing key signs from now on; the old one
//                                                stays in the JWKS only when keep_old is true.
//   POST /test/next-id-token {"aud"?, "exp_offset_seconds"?, "nonce"?, "claims"?, "kid"?,
//                             "sign_with": "provider" | "stranger" | "none"}
//                            or {"replay_last": true}
//        changes the id_token of the NEXT successful token-endpoint response: its claims are
//        changed as asked and it is signed again with the provider's current key, a freshly
//        generated key the JWKS never shows ("stranger"), or not at all (alg "none"); or it is
//        replaced by the id_token of the previous response.
//   GET  /test/state         the current kid, the published kids and whether a change is pending.

import { generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { CompactSign, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider, { ExternalSigningKey } from 'oidc-provider';

const ALG = 'RS256';

function readConfig() {
  const path = process.argv[2];
  const text = path ? readFileSync(path, 'utf8') : process.env.OIDC_PROVIDER_CONFIG;
  if (!text) {
    throw new Error('give the configuration as a JSON file path argument or in OIDC_PROVIDER_CONFIG');
  }
  const config = JSON.parse(text);
  if (!Array.isArray(config.clients) || !Array.isArray(config.accounts)) {
    throw new Error('the configuration needs "clients" and "accounts" arrays');
  }
  return config;
}

// A signing key of the harness: an RSA key pair and its key id.
function newKey(prefix = 'key') {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: `${prefix}-${randomBytes(6).toString('hex')}`, privateKey, publicKey };
}

function publicJwk(key) {
  return { ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: ALG, use: 'sig' };
}

// The keys: `current` signs; `published` is what the JWKS endpoint shows.
const keys = { current: newKey(), published: [] };
keys.published.push(keys.current);

// The provider signs through this one key object, which always delegates to the harness's current
// key: so after a rotation the provider itself signs with the new key and names its kid.
class RotatingKey extends ExternalSigningKey {
  constructor() {
    super();
    this.alg = ALG;
  }

  get kid() {
    return keys.current.kid;
  }

  keyObject() {
    return keys.current.publicKey;
  }

  async sign(data) {
    return cryptoSign('sha256', data, keys.current.privateKey);
  }
}

async function signJwt(payload, key, kid) {
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: kid ?? key.kid })
    .sign(key.privateKey);
}

function unsignedJwt(payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}

// What the next token response's id_token becomes (null: unchanged), and the last one issued.
let pendingIdToken = null;
let lastIdToken = null;

async function tamper(idToken, change) {
  if (change.replay_last) {
    if (!lastIdToken) {
      throw new Error('replay_last: no earlier id_token to replay');
    }
    return lastIdToken;
  }
  const payload = { ...decodeJwt(idToken), ...(change.claims ?? {}) };
  if (change.aud !== undefined) payload.aud = change.aud;
  if (change.nonce !== undefined) payload.nonce = change.nonce;
  if (change.exp_offset_seconds !== undefined) {
    payload.exp = Math.floor(Date.now() / 1000) + change.exp_offset_seconds;
  }
  const header = decodeProtectedHeader(idToken);
  switch (change.sign_with ?? 'provider') {
    case 'provider':
      return signJwt(payload, keys.current, change.kid ?? header.kid);
    case 'stranger':
      return signJwt(payload, newKey('stranger'), change.kid);
    case 'none':
      return unsignedJwt(payload);
    default:
      throw new Error(`sign_with must be "provider", "stranger" or "none", not ${JSON.stringify(change.sign_with)}`);
  }
}

function claimsOf(account) {
  return {
    sub: account.sub,
    email: account.email,
    email_verified: account.email_verified,
    name: account.name,
    groups: account.groups ?? [],
  };
}

const config = readConfig();
const accounts = new Map(config.accounts.map((account) => [account.sub, account]));

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port ?? 0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...client,
  })),
  jwks: { keys: [new RotatingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: true },
    externalSigningSupport: { enabled: true, ack: 'experimental-01' },
  },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The scopes' claims go into the id_token too, not only to the userinfo endpoint.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return { accountId: id, claims: async () => claimsOf(account) };
  },
  // Consent never blocks: the grant covers whatever the request asks for.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      accountId: ctx.oidc.session.accountId,
      clientId: ctx.oidc.client.clientId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    const text = Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n');
    ctx.body = `<!DOCTYPE html><title>oidc error</title><pre id="error">${text.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</pre>`;
  },
});

// The token endpoint's id_tokens: remembered for replay, and changed when a test asked for it.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200) return;
  const body = ctx.body;
  if (!body || typeof body.id_token !== 'string') return;
  const issued = body.id_token;
  if (pendingIdToken) {
    const change = pendingIdToken;
    pendingIdToken = null;
    body.id_token = await tamper(issued, change);
  }
  lastIdToken = issued;
});

// The JWKS is served here because the provider computes its own copy once, at start.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/jwks') {
    ctx.type = 'application/jwk-set+json; charset=utf-8';
    ctx.body = { keys: keys.published.map(publicJwk) };
    return;
  }
  await next();
});

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { text += chunk; });
    req.on('end', () => {
      try {
        resolve(text.trim() ? JSON.parse(text) : {});
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function answer(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function state() {
  return {
    kid: keys.current.kid,
    published: keys.published.map((key) => key.kid),
    pending: pendingIdToken !== null,
  };
}

async function testEndpoint(req, res) {
  const path = new URL(req.url, issuer).pathname;
  if (req.method === 'GET' && path === '/test/state') {
    return answer(res, 200, state());
  }
  if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
  const body = await readJson(req);
  switch (path) {
    case '/test/rotate': {
      const key = newKey();
      keys.published = body.keep_old ? [key, ...keys.published] : [key];
      keys.current = key;
      return answer(res, 200, state());
    }
    case '/test/next-id-token': {
      const signWith = body.sign_with ?? 'provider';
      if (!body.replay_last && !['provider', 'stranger', 'none'].includes(signWith)) {
        return answer(res, 400, { error: 'sign_with must be "provider", "stranger" or "none"' });
      }
      pendingIdToken = body;
      return answer(res, 200, state());
    }
    default:
      return answer(res, 404, { error: `no test endpoint ${path}` });
  }
}

// What went wrong is told on stderr, which the Rust side shows when a test fails to start it
// (and always with FAILFORWARD_OIDC_LOG=1).
for (const event of ['server_error', 'grant.error', 'authorization.error', 'end_session.error']) {
  provider.on(event, (ctx, error) => console.error(`${event}: ${error?.stack ?? error}`));
}
server.on('clientError', (error, socket) => {
  console.error(`clientError: ${error.message}`);
  socket.destroy();
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/test/')) {
    testEndpoint(req, res).catch((error) => answer(res, 400, { error: String(error.message ?? error) }));
    return;
  }
  callback(req, res);
});

// A test that stopped reading our output must not end the provider.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.stdout.write(`ready ${issuer}\n`);
