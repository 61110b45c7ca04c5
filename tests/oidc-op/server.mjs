// A real OpenID Provider for idbridge's integration tests: panva's oidc-provider (an
// OpenID Certified implementation), on plain http on 127.0.0.1, with no HTML forms.
//
// Run by crates/idbridge-testkit/src/oidc_op.rs; by hand:
//
//   OP_PORT=0 OP_CONFIG='{"clients":[...],"accounts":{...}}' node tests/oidc-op/server.mjs
//
// Environment:
//   OP_PORT    port to listen on, 127.0.0.1 only (0 or unset: any free port).
//   OP_CONFIG  JSON:
//     { "clients": [{ "client_id", "client_secret", "redirect_uris": [...],
//                     "token_endpoint_auth_method"?, "id_token_signed_response_alg"?,
//                     ...any other client metadata oidc-provider knows }],
//       "accounts": { "<accountId>": { "email", "email_verified", "name", "given_name",
//                                      "family_name", "groups": [...], ...extra claims } } }
//
// Output: exactly one line on stdout once listening, {"issuer":"http://127.0.0.1:PORT"};
// every log line (oidc-provider's development notices included) goes to stderr.
// Exits when stdin closes, or on SIGTERM / SIGINT.
//
// Behaviour:
// - Discovery at /.well-known/openid-configuration, JWKS at /jwks (a fresh RS256 key
//   and a fresh ES256 key each start; RS256 is the default ID token alg, a client may
//   ask for ES256 with id_token_signed_response_alg).
// - Authorization code flow only (response_type=code), PKCE required and S256 only,
//   `state` and `nonce` echoed, RFC 9207 `iss` always in the authorization response.
//   Client authentication at the token endpoint: client_secret_basic by default, or
//   the client's token_endpoint_auth_method (client_secret_post, none, ...).
// - No user interface: the authorization endpoint sends the browser to
//   /interaction/<uid>, which signs in at once as the account named by `login_hint`
//   when that is a key of `accounts`, else as the first account, and then grants every
//   scope and claim asked for. The redirects stay on this host and need the cookies
//   it sets; they end in a 303 to the client's redirect_uri with code, state and iss.
//   A cookie jar that already holds a session stays signed in as its account (no
//   login prompt, so login_hint is not looked at again): use a fresh cookie jar per
//   user. Switching accounts inside one session makes oidc-provider end the old
//   session through an auto-submitting HTML form, which a plain HTTP client won't do.
// - Scopes and claims (`sub` is always the account id):
//     openid   sub
//     email    email, email_verified
//     profile  the OIDC standard profile claims (name, given_name, family_name,
//              preferred_username, ...) plus every other claim an account has that
//              is not listed here (extra claims travel with `profile`)
//     groups   groups
//     offline_access  a refresh token (the client needs the refresh_token grant type,
//                     which clients get by default here)
//   Granted claims are in the ID token itself (conformIdTokenClaims: false) and from
//   the userinfo endpoint (/me). The `claims` request parameter is supported too.
// - State (sessions, codes, tokens) is in memory and dies with the process.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

// stdout carries the issuer line and nothing else: oidc-provider prints its
// development notices with console.info.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

function fail(message) {
  console.error(`oidc-op: ${message}`);
  process.exit(2);
}

// Imported only now, so that even its import-time notices are on stderr.
const { default: Provider } = await import('oidc-provider');

// --- configuration -----------------------------------------------------------------
let config;
try {
  config = JSON.parse(process.env.OP_CONFIG ?? '');
} catch (err) {
  fail(`OP_CONFIG is not JSON: ${err.message}`);
}
const clients = config?.clients;
const accounts = config?.accounts;
if (!Array.isArray(clients) || clients.length === 0) {
  fail('OP_CONFIG.clients must be a non-empty array');
}
if (accounts === null || typeof accounts !== 'object' || Array.isArray(accounts)
  || Object.keys(accounts).length === 0) {
  fail('OP_CONFIG.accounts must be a non-empty object of accountId -> claims');
}
const accountIds = Object.keys(accounts);
const knownAccount = (id) => typeof id === 'string' && Object.hasOwn(accounts, id);

const port = Number(process.env.OP_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`OP_PORT is not a port: ${process.env.OP_PORT}`);
}

const EMAIL_CLAIMS = ['email', 'email_verified'];
const PROFILE_CLAIMS = [
  'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale',
  'updated_at',
];
const GROUPS_CLAIMS = ['groups'];
const placed = new Set(['sub', ...EMAIL_CLAIMS, ...PROFILE_CLAIMS, ...GROUPS_CLAIMS]);
const extraClaims = [...new Set(
  Object.values(accounts).flatMap((claims) => Object.keys(claims ?? {})),
)].filter((claim) => !placed.has(claim));

// --- keys --------------------------------------------------------------------------
function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`,
    alg,
    use: 'sig',
  };
}
const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

// --- the provider --------------------------------------------------------------------
// Listen first: the issuer needs the port the kernel picked.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: clients.map((client) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...client,
  })),
  async findAccount(_ctx, sub) {
    if (!knownAccount(sub)) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...accounts[sub], sub };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: EMAIL_CLAIMS,
    profile: [...PROFILE_CLAIMS, ...extraClaims],
    groups: GROUPS_CLAIMS,
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false,
  jwks,
  responseTypes: ['code'],
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: true },
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    ClientCredentials: 600,
    Grant: 86400,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 86400,
  },
  // Loopback test traffic only: any origin may call the CORS-enabled endpoints.
  clientBasedCORS: () => true,
  // Errors as JSON, so a failing test shows what the provider objected to.
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'jwks.error', 'discovery.error', 'revocation.error']) {
  provider.on(event, (ctx, err) => {
    console.error(`oidc-op ${event}: ${err?.name ?? ''} ${err?.message ?? err}`
      + `${err?.error_description ? ` (${err.error_description})` : ''}`);
  });
}

// The interaction "UI": sign in, then consent, with no page in between.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;

  if (prompt.name === 'login') {
    const accountId = knownAccount(params.login_hint) ? params.login_hint : accountIds[0];
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId, amr: ['pwd'] } },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    }
    if (missing.missingOIDCClaims) {
      grant.addOIDCClaims(missing.missingOIDCClaims);
    }
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true },
    );
    return;
  }

  throw new Error(`unexpected prompt ${prompt.name}`);
}

const providerCallback = provider.callback();
server.on('request', (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(path)) {
    interact(req, res).catch((err) => {
      console.error(`oidc-op interaction: ${err?.stack ?? err}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      }
      res.end(`interaction failed: ${err?.message ?? err}\n`);
    });
    return;
  }
  providerCallback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
console.error(`oidc-op: listening at ${issuer}, accounts ${accountIds.join(', ')}`);

// --- shutting down -------------------------------------------------------------------
function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
