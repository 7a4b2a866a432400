#!/usr/bin/env node
// Test authorization server for mailoauth: oidc-provider (v9) configured to look like the
// Microsoft identity platform where that matters to a mail client (JWT access tokens for
// https://outlook.office365.com, rotating refresh tokens, device flow with interval and
// message, Microsoft-shaped error bodies), plus test hooks under /test/.
//
// FOR TESTS ONLY: the login page accepts any login and password.
//
// Usage: node server.mjs [--port N] [--log FILE] [options]   (see README.md or --help)

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

// oidc-provider prints notices with console.info (stdout). stdout is reserved for the single
// readiness line, so every console method writes to stderr.
for (const m of ['log', 'info', 'debug']) console[m] = (...a) => console.error(...a);

const USAGE = `usage: node server.mjs [options]
  --port N                  listen on 127.0.0.1:N (0 = pick a free port; default $OIDC_PORT or 0)
  --log FILE                append one JSON line per token / device / authorization request
  --access-ttl SECONDS      lifetime of access tokens (default 3600)
  --refresh-ttl SECONDS     lifetime of refresh tokens (default 1209600)
  --refresh-in SECONDS      add "refresh_in" to token responses (default: not sent)
  --device-interval SECONDS "interval" in device authorization responses (default 1)
  --device-ttl SECONDS      lifetime of device codes, "expires_in" (default 600)
  --device-slow-down N      answer slow_down to the first N polls of every device code (default 0)
  --device-errors rfc|microsoft
                            declined: access_denied (rfc) or authorization_declined (microsoft);
                            unknown device code: invalid_grant (rfc) or bad_verification_code
  --no-enforce-interval     do not answer slow_down to polls that come faster than the interval
  --no-verification-uri-complete
                            leave verification_uri_complete out (as Microsoft does)
  --ms-error-fields         add error_codes, timestamp, trace_id, correlation_id to every token error
  --error-mode SPEC         queue forced token-endpoint errors at start: CODE[:COUNT][,CODE[:COUNT]...]
                            (CODE = an AADSTS number such as 50076, or a preset name; see /test/presets)
  --refresh-delay-ms N      hold every refresh_token response for N ms (exposes refresh races)
                            (POST /test/config {"hold_refresh": true} holds them until
                            POST /test/release-refresh instead)
  --client-secret S         secret of mailoauth-confidential (default mailoauth-test-secret)
  --redirect-uri URI        extra redirect URI for both clients (repeatable)
  --cc-email ADDRESS        put email/upn = ADDRESS into client-credentials access tokens
  --key-file FILE           RSA private key (PEM, PKCS#8); created if missing, reused if present
  --public-key-out FILE     write the signing public key (PEM, SPKI) there
  --dovecot-keydir DIR      write the public key as DIR/default/RS256/<kid> (Dovecot local validation)
  --help`;

// ---------------------------------------------------------------------------------------------
// command line

function die(msg) {
  process.stderr.write(`server.mjs: ${msg}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      log: { type: 'string' },
      'access-ttl': { type: 'string' },
      'refresh-ttl': { type: 'string' },
      'refresh-in': { type: 'string' },
      'device-interval': { type: 'string' },
      'device-ttl': { type: 'string' },
      'device-slow-down': { type: 'string' },
      'device-errors': { type: 'string' },
      'no-enforce-interval': { type: 'boolean' },
      'no-verification-uri-complete': { type: 'boolean' },
      'ms-error-fields': { type: 'boolean' },
      'error-mode': { type: 'string' },
      'refresh-delay-ms': { type: 'string' },
      'client-secret': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'cc-email': { type: 'string' },
      'key-file': { type: 'string' },
      'public-key-out': { type: 'string' },
      'dovecot-keydir': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  }));
} catch (e) {
  die(`${e.message}\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function intArg(name, fallback, min = 0) {
  const raw = args[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) die(`--${name} needs an integer >= ${min}, got '${raw}'`);
  return Number(raw);
}

const port = intArg('port', process.env.OIDC_PORT !== undefined ? Number(process.env.OIDC_PORT) : 0);
const RESOURCE = 'https://outlook.office365.com';
const DELEGATED = ['IMAP.AccessAsUser.All', 'POP.AccessAsUser.All', 'SMTP.Send'];
const APP_ROLES = ['IMAP.AccessAsApp', 'POP.AccessAsApp', 'SMTP.SendAsApp'];
const TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad'; // fixed fake tenant GUID

// Everything a test may change at run time (POST /test/config) lives here.
const cfg = {
  access_ttl: intArg('access-ttl', 3600, 1),
  refresh_ttl: intArg('refresh-ttl', 14 * 24 * 3600, 1),
  refresh_in: args['refresh-in'] === undefined ? null : intArg('refresh-in', 0, 1),
  device_interval: intArg('device-interval', 1, 1),
  device_ttl: intArg('device-ttl', 600, 1),
  device_slow_down: intArg('device-slow-down', 0),
  device_errors: args['device-errors'] ?? 'rfc',
  enforce_interval: !args['no-enforce-interval'],
  interval_tolerance_ms: 250,
  verification_uri_complete: !args['no-verification-uri-complete'],
  ms_error_fields: !!args['ms-error-fields'],
  refresh_delay_ms: intArg('refresh-delay-ms', 0),
  // Hold every refresh_token request until POST /test/release-refresh (or this set to false):
  // a test starts its concurrent callers, sees them all queued, then lets the answer go, instead
  // of hoping they all started within a delay (issue 8).
  hold_refresh: false,
  cc_email: args['cc-email'] ?? null,
  bad_signature_next: 0, // the next N access tokens get a signature from another key (same kid)
};
if (!['rfc', 'microsoft'].includes(cfg.device_errors)) die('--device-errors must be rfc or microsoft');
const CLIENT_SECRET = args['client-secret'] ?? 'mailoauth-test-secret';

// ---------------------------------------------------------------------------------------------
// Microsoft-shaped errors

const PRESETS = {
  50011: ['invalid_request', 400, "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."],
  50034: ['invalid_grant', 400, 'The user account {EUII Hidden} does not exist in the contoso.example directory. To sign into this application, the account must be added to the directory.'],
  50076: ['invalid_grant', 400, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'https://outlook.office365.com'.", { suberror: 'basic_action' }],
  50079: ['invalid_grant', 400, "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access 'https://outlook.office365.com'.", { suberror: 'basic_action' }],
  50126: ['invalid_grant', 400, 'Error validating credentials due to invalid username or password.'],
  50173: ['invalid_grant', 400, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{now}'."],
  53003: ['invalid_grant', 400, 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.', { suberror: 'message_only' }],
  65001: ['invalid_grant', 400, "The user or administrator has not consented to use the application with ID '{client_id}' named 'mailoauth'. Send an interactive authorization request for this user and resource.", { suberror: 'consent_required' }],
  70000: ['invalid_grant', 400, 'The request was denied because one or more scopes requested are unauthorized or expired. The user must first sign in and grant the client application access to the requested scope.'],
  70008: ['invalid_grant', 400, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.'],
  70011: ['invalid_scope', 400, "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid."],
  70043: ['invalid_grant', 400, "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on {issued} and the maximum allowed lifetime for this request is 43200.", { suberror: 'bad_token' }],
  90002: ['invalid_request', 400, "Tenant 'contoso.example' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."],
  700016: ['unauthorized_client', 400, "Application with identifier '{client_id}' was not found in the directory 'contoso.example'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."],
  700025: ['invalid_client', 400, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."],
  700082: ['invalid_grant', 400, 'The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for 90.00:00:00.', { suberror: 'bad_token' }],
  7000012: ['invalid_grant', 400, 'The grant was obtained for a different tenant.'],
  7000215: ['invalid_client', 401, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."],
  7000218: ['invalid_client', 401, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."],
  900144: ['invalid_request', 400, "The request body must contain the following parameter: 'scope'."],
  9002313: ['invalid_request', 400, 'Invalid request. Request is malformed or invalid.'],
};
// Named presets that are not AADSTS errors: transport-level trouble for back-off tests.
const SPECIAL_PRESETS = {
  throttled: { status: 429, error: 'temporarily_unavailable', description: 'The request was throttled. Retry after the time given in Retry-After.', retry_after: 1 },
  unavailable: { status: 503, error: 'temporarily_unavailable', description: 'The service is temporarily unavailable. Retry after the time given in Retry-After.', retry_after: 1 },
  server_error: { status: 500, error: 'server_error', description: 'An unexpected error occurred on the server.' },
  html500: { status: 500, html: true },
  drop: { drop: true },
};

function msTimestamp(d = new Date()) {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
}

// Decorate an error body the way login.microsoftonline.com does.
function msDecorate(body, { code, correlationId }) {
  const traceId = crypto.randomUUID();
  const correlation = correlationId || crypto.randomUUID();
  const ts = msTimestamp();
  let desc = body.error_description ?? '';
  if (code && !desc.startsWith('AADSTS')) desc = `AADSTS${code}: ${desc}`;
  desc += `\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${ts}`;
  return {
    ...body,
    error_description: desc,
    error_codes: code ? [Number(code)] : [],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlation,
    ...(code ? { error_uri: `https://login.microsoftonline.com/error?code=${code}` } : {}),
  };
}

// AADSTS codes Microsoft uses for the standard device-flow answers (shown with --ms-error-fields).
const KNOWN_CODES = { authorization_pending: 70016, expired_token: 70020 };

// Queue of forced errors for the token endpoint.
const errorQueue = [];

function makeForcedError(spec) {
  // spec: { code?, preset?, error?, error_description?, status?, retry_after?, count?, grant_type?, client_id?, extra? }
  const out = {
    count: spec.count === undefined ? 1 : Number(spec.count),
    grant_type: spec.grant_type ?? null,
    client_id: spec.client_id ?? null,
  };
  const key = String(spec.code ?? spec.preset ?? '');
  if (/^\d+$/.test(key)) {
    const p = PRESETS[key];
    if (!p && !spec.error) throw new Error(`no preset for AADSTS${key}; give "error" and "error_description" too`);
    out.code = Number(key);
    out.error = spec.error ?? p[0];
    out.status = Number(spec.status ?? p?.[1] ?? 400);
    out.description = spec.error_description ?? p[2];
    out.extra = { ...(p?.[3] ?? {}), ...(spec.extra ?? {}) };
  } else if (key) {
    const s = SPECIAL_PRESETS[key];
    if (!s) throw new Error(`unknown preset '${key}'`);
    Object.assign(out, s, { preset: key });
    if (spec.status !== undefined) out.status = Number(spec.status);
    if (spec.error !== undefined) out.error = spec.error;
    if (spec.error_description !== undefined) out.description = spec.error_description;
    out.extra = spec.extra ?? {};
  } else {
    if (!spec.error) throw new Error('give "code" (AADSTS number), "preset" or "error"');
    out.error = spec.error;
    out.status = Number(spec.status ?? 400);
    out.description = spec.error_description ?? '';
    out.extra = spec.extra ?? {};
  }
  if (spec.retry_after !== undefined) out.retry_after = Number(spec.retry_after);
  if (!Number.isInteger(out.count) || out.count < 1) throw new Error('"count" must be a positive integer');
  return out;
}

function parseErrorMode(spec) {
  return spec.split(',').filter(Boolean).map((part) => {
    const [code, count] = part.split(':');
    return makeForcedError({ code, count: count === undefined ? 1 : count });
  });
}

if (args['error-mode']) {
  try {
    errorQueue.push(...parseErrorMode(args['error-mode']));
  } catch (e) {
    die(`--error-mode: ${e.message}`);
  }
}

function takeForcedError(grantType, clientId) {
  const i = errorQueue.findIndex((e) => (!e.grant_type || e.grant_type === grantType)
    && (!e.client_id || e.client_id === clientId));
  if (i === -1) return null;
  const e = errorQueue[i];
  e.count -= 1;
  if (e.count <= 0) errorQueue.splice(i, 1);
  return e;
}

// ---------------------------------------------------------------------------------------------
// signing key

async function loadOrCreateKey() {
  const file = args['key-file'];
  let privateKey;
  if (file && fs.existsSync(file)) {
    privateKey = crypto.createPrivateKey(fs.readFileSync(file));
  } else {
    ({ privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }));
    if (file) fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = crypto.createPublicKey(privateKey);
  const pubJwk = pub.export({ format: 'jwk' });
  // kid = RFC 7638 thumbprint (base64url: no '/', safe as a Dovecot key file name)
  const thumb = crypto.createHash('sha256')
    .update(JSON.stringify({ e: pubJwk.e, kty: 'RSA', n: pubJwk.n })).digest('base64url');
  const kid = thumb.slice(0, 16);
  return {
    kid,
    privateJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
    publicJwk: { ...pubJwk, kid, alg: 'RS256', use: 'sig' },
    publicPem: pub.export({ type: 'spki', format: 'pem' }),
  };
}

const key = await loadOrCreateKey();
if (args['public-key-out']) fs.writeFileSync(args['public-key-out'], key.publicPem);
if (args['dovecot-keydir']) {
  const dir = path.join(args['dovecot-keydir'], 'default', 'RS256');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, key.kid), key.publicPem);
}

// A well-formed token with the right kid whose signature does not verify (for tests of a
// server rejecting a token that looked valid to the client).
let rogueKey = null;
function resign(jws) {
  rogueKey ??= crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const [h, p] = jws.split('.');
  const sig = crypto.sign('sha256', Buffer.from(`${h}.${p}`), rogueKey).toString('base64url');
  return `${h}.${p}.${sig}`;
}

// ---------------------------------------------------------------------------------------------
// listen first (port 0 = free port), then build the provider with the final issuer

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
}).catch((e) => die(`cannot listen on 127.0.0.1:${port}: ${e.code ?? e.message}`));
const actualPort = server.address().port;
const ISSUER = `http://127.0.0.1:${actualPort}`;

const { default: Provider, errors: oidcErrors } = await import('oidc-provider');

// ---------------------------------------------------------------------------------------------
// request log

let logFd = null;
if (args.log) logFd = fs.openSync(args.log, 'a');
let seq = 0;
const logEntries = [];

function logEvent(entry) {
  seq += 1;
  const line = { seq, ts: new Date().toISOString(), t: Date.now(), ...entry };
  logEntries.push(line);
  if (logEntries.length > 10000) logEntries.shift();
  if (logFd !== null) fs.writeSync(logFd, `${JSON.stringify(line)}\n`);
}

// ---------------------------------------------------------------------------------------------
// accounts: any login is an account; claims derive from the login name

function oidFor(login) {
  const h = crypto.createHash('sha256').update(`oid:${login}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function findAccount(ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: sub,
        email_verified: true,
        name: sub.split('@')[0],
        preferred_username: sub,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// resource server: https://outlook.office365.com, JWT access tokens

function shortScope(s) {
  return s.startsWith(`${RESOURCE}/`) ? s.slice(RESOURCE.length + 1) : s;
}

async function getResourceServerInfo(ctx, indicator) {
  if (indicator !== RESOURCE && indicator !== `${RESOURCE}/`) throw new oidcErrors.InvalidTarget();
  return {
    scope: [...DELEGATED, '.default'].map((s) => `${RESOURCE}/${s}`).join(' '),
    audience: RESOURCE,
    accessTokenTTL: cfg.access_ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

// Like Microsoft: no "resource" parameter needed; the scope URLs name the resource.
async function defaultResource(ctx, client, oneOf) {
  if (oneOf) return oneOf;
  const scope = ctx.oidc.params?.scope;
  if (typeof scope === 'string' && scope.split(' ').some((s) => s.startsWith(`${RESOURCE}/`))) return RESOURCE;
  return undefined;
}

async function customizeJwt(ctx, token, jwt) {
  jwt.header = { typ: 'JWT' }; // Dovecot 2.3.19 insists on typ "JWT" (oidc-provider uses at+jwt)
  const p = jwt.payload;
  const scopes = (token.scope ?? '').split(' ').filter(Boolean);
  p.nbf = p.iat;
  p.ver = '1.0';
  p.tid = TENANT_ID;
  p.appid = token.clientId;
  if (token.kind === 'ClientCredentials') {
    p.roles = [...APP_ROLES];
    p.idtyp = 'app';
    p.oid = oidFor(`app:${token.clientId}`);
    if (cfg.cc_email) {
      p.email = cfg.cc_email;
      p.upn = cfg.cc_email;
    }
  } else {
    let scp = scopes.filter((s) => s.startsWith(`${RESOURCE}/`)).map(shortScope);
    if (scp.includes('.default')) scp = [...new Set([...scp.filter((s) => s !== '.default'), ...DELEGATED])];
    p.scp = scp.join(' ');
    p.email = token.accountId;
    p.upn = token.accountId;
    p.unique_name = token.accountId;
    p.name = token.accountId.split('@')[0];
    p.oid = oidFor(token.accountId);
    p.idtyp = 'user';
  }
}

// ---------------------------------------------------------------------------------------------
// clients

const extraRedirects = args['redirect-uri'] ?? [];
const LOOPBACK_REDIRECTS = [
  'http://127.0.0.1/', 'http://127.0.0.1', 'http://localhost/', 'http://localhost',
  'http://[::1]/', 'http://[::1]', ...extraRedirects,
];

const clients = [
  {
    client_id: 'mailoauth-native',
    client_name: 'mailoauth (public native client)',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: LOOPBACK_REDIRECTS,
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'implicit'],
    response_types: ['code', 'id_token token'],
  },
  {
    client_id: 'mailoauth-confidential',
    client_name: 'mailoauth (confidential client)',
    client_secret: CLIENT_SECRET,
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is accepted too
    redirect_uris: LOOPBACK_REDIRECTS,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
];

// ---------------------------------------------------------------------------------------------
// provider configuration

const OFFLINE_MARK = 'x_mailoauth_offline';

const configuration = {
  clients,
  findAccount,
  jwks: { keys: [key.privateJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  responseTypes: ['code', 'id_token token', 'code id_token', 'id_token', 'none'],
  extraParams: [OFFLINE_MARK],
  pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
  rotateRefreshToken: () => true,
  expiresWithSession: async () => false,
  clientBasedCORS: () => true,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true, allowedPolicy: async () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource,
      useGrantedResource: async () => true,
      getResourceServerInfo,
    },
  },
  formats: { customizers: { jwt: customizeJwt } },
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? cfg.access_ttl,
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? cfg.access_ttl,
    AuthorizationCode: 120,
    DeviceCode: () => cfg.device_ttl,
    IdToken: 3600,
    RefreshToken: () => cfg.refresh_ttl,
    Grant: () => Math.max(cfg.refresh_ttl, 14 * 24 * 3600),
    Session: 14 * 24 * 3600,
    Interaction: 3600,
  },
};

const provider = new Provider(ISSUER, configuration);

// grant.error carries the details the response body hides (e.g. "refresh token already used").
provider.on('grant.error', (ctx, err) => {
  ctx.state.grantError = { error: err.error ?? err.message, detail: err.error_detail };
});
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`server_error: ${err.stack ?? err}\n`);
});

// ---------------------------------------------------------------------------------------------
// device codes we issued (for interval enforcement, forced slow_down, decline, expiry)

const deviceCodes = new Map(); // device_code -> state
const userCodes = new Map(); // normalised user_code -> device_code

function normUserCode(c) {
  return String(c).toUpperCase().replace(/[^A-Z0-9]/g, '');
}

// ---------------------------------------------------------------------------------------------
// helpers

async function readRawBody(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function clientIdFrom(ctx, params) {
  if (params.client_id) return params.client_id;
  const auth = ctx.get('authorization');
  if (auth && /^basic /i.test(auth)) {
    try {
      const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      return decodeURIComponent(dec.split(':')[0].replace(/\+/g, ' '));
    } catch {
      return null;
    }
  }
  return null;
}

function authMethodOf(ctx, params) {
  if (params.client_secret) return 'client_secret_post';
  if (/^basic /i.test(ctx.get('authorization') || '')) return 'client_secret_basic';
  if (params.client_assertion) return 'client_assertion';
  return 'none';
}

// Refresh requests waiting for /test/release-refresh (cfg.hold_refresh).
const heldRefreshes = [];
function releaseRefreshes() {
  const n = heldRefreshes.length;
  for (const release of heldRefreshes.splice(0)) release();
  return n;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function setJsonError(ctx, status, body, headers = {}) {
  ctx.status = status;
  for (const [k, v] of Object.entries(headers)) ctx.set(k, String(v));
  ctx.set('cache-control', 'no-store');
  ctx.set('pragma', 'no-cache');
  ctx.type = 'application/json';
  ctx.body = body;
}

function deviceError(ctx, error, description) {
  let body = { error, error_description: description };
  if (cfg.ms_error_fields) body = msDecorate(body, { code: KNOWN_CODES[error], correlationId: ctx.get('client-request-id') });
  setJsonError(ctx, 400, body);
}

// ---------------------------------------------------------------------------------------------
// test endpoints under /test/

async function readJsonOrForm(ctx) {
  const raw = ctx.method === 'GET' ? '' : await readRawBody(ctx);
  const out = Object.fromEntries(new URLSearchParams(ctx.querystring));
  if (raw) {
    if ((ctx.get('content-type') || '').includes('json')) Object.assign(out, JSON.parse(raw));
    else Object.assign(out, Object.fromEntries(new URLSearchParams(raw)));
  }
  return out;
}

function coerce(name, value) {
  const bools = ['enforce_interval', 'verification_uri_complete', 'ms_error_fields', 'hold_refresh'];
  if (bools.includes(name)) return value === true || value === 'true' || value === '1' || value === 1;
  if (['cc_email'].includes(name)) return value === '' || value === null ? null : String(value);
  if (name === 'device_errors') {
    if (!['rfc', 'microsoft'].includes(value)) throw new Error('device_errors must be rfc or microsoft');
    return value;
  }
  if (name === 'refresh_in' && (value === null || value === '' || value === 'null')) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
}

function tokenStats() {
  const stats = { token: {}, device_authorization: 0, authorization: 0 };
  for (const e of logEntries) {
    if (e.event === 'token') {
      const g = (stats.token[e.grant_type ?? '(none)'] ??= { ok: 0, error: 0 });
      g[e.outcome] += 1;
    } else if (e.event in stats) {
      stats[e.event] += 1;
    }
  }
  return stats;
}

async function handleTest(ctx) {
  const route = ctx.path.replace(/^\/test\/?/, '');
  const send = (body, status = 200) => {
    ctx.status = status;
    ctx.type = 'application/json';
    ctx.body = body;
  };
  try {
    switch (route) {
      case 'public-key.pem':
      case 'jwks-pem':
        ctx.type = 'application/x-pem-file';
        ctx.body = key.publicPem;
        return;
      case 'key':
        return send({
          kid: key.kid, alg: 'RS256', pem: key.publicPem, jwk: key.publicJwk,
          dovecot_key_path: `default/RS256/${key.kid}`,
        });
      case 'config': {
        const body = await readJsonOrForm(ctx);
        const known = Object.keys(cfg);
        for (const k of Object.keys(body)) {
          if (!known.includes(k)) throw new Error(`unknown setting '${k}' (known: ${known.join(', ')})`);
        }
        const next = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, coerce(k, v)]));
        Object.assign(cfg, next); // all or nothing
        if (!cfg.hold_refresh) releaseRefreshes();
        return send(cfg);
      }
      case 'release-refresh': {
        // GET: how many refresh requests are held; POST: let them (and later ones) go.
        if (ctx.method === 'GET') return send({ held: heldRefreshes.length, hold: cfg.hold_refresh });
        cfg.hold_refresh = false;
        return send({ released: releaseRefreshes() });
      }
      case 'presets':
        return send({
          aadsts: Object.fromEntries(Object.entries(PRESETS).map(([k, v]) => [k, { error: v[0], status: v[1] }])),
          special: SPECIAL_PRESETS,
        });
      case 'next-error': {
        if (ctx.method === 'DELETE') {
          errorQueue.length = 0;
          return send({ queued: [] });
        }
        const body = await readJsonOrForm(ctx);
        if (Object.keys(body).length) errorQueue.push(makeForcedError(body));
        return send({ queued: errorQueue });
      }
      case 'device': {
        // POST {action: "deny"|"expire"|"slow_down", user_code?, device_code?, count?}
        // Without user_code/device_code the action applies to every pending code.
        const body = await readJsonOrForm(ctx);
        if (ctx.method === 'GET' && !body.action) {
          return send({ codes: [...deviceCodes.entries()].map(([, s]) => ({ ...s })) });
        }
        let targets = [...deviceCodes.values()].filter((s) => s.state === 'pending');
        if (body.device_code) targets = [deviceCodes.get(body.device_code)].filter(Boolean);
        if (body.user_code) targets = [deviceCodes.get(userCodes.get(normUserCode(body.user_code)))].filter(Boolean);
        for (const s of targets) {
          if (body.action === 'deny' || body.action === 'decline') s.state = 'declined';
          else if (body.action === 'expire') s.expires_at = Date.now() - 1;
          else if (body.action === 'slow_down') s.slow_down_left += Number(body.count ?? 1);
          else throw new Error('action must be deny, expire or slow_down');
        }
        return send({ affected: targets.map((s) => s.user_code) });
      }
      case 'stats':
        return send(tokenStats());
      case 'log': {
        const since = Number(ctx.query.since ?? 0);
        return send(logEntries.filter((e) => e.seq > since));
      }
      case 'reset': {
        logEntries.length = 0;
        errorQueue.length = 0;
        return send({ ok: true });
      }
      default:
        return send({ error: 'not_found', routes: ['public-key.pem', 'key', 'config', 'presets', 'next-error', 'device', 'stats', 'log', 'reset'] }, 404);
    }
  } catch (e) {
    return send({ error: 'bad_request', error_description: e.message }, 400);
  }
}

// ---------------------------------------------------------------------------------------------
// middleware around the provider

provider.use(async (ctx, next) => {
  if (ctx.path === '/test' || ctx.path.startsWith('/test/')) {
    await handleTest(ctx);
    return;
  }

  // Authorization request (first hop only; /auth/:uid is the resume after login/consent).
  if (ctx.path === '/auth' && ctx.method === 'GET') {
    const q = new URLSearchParams(ctx.querystring);
    const scope = q.get('scope') ?? '';
    logEvent({
      event: 'authorization',
      client_id: q.get('client_id'),
      response_type: q.get('response_type'),
      redirect_uri: q.get('redirect_uri'),
      scope,
      code_challenge_method: q.get('code_challenge_method'),
      has_code_challenge: q.has('code_challenge'),
      has_state: q.has('state'),
      has_nonce: q.has('nonce'),
      prompt: q.get('prompt'),
      login_hint: q.get('login_hint'),
    });
    // oidc-provider drops offline_access unless prompt=consent. Remember that it was asked for
    // and put it back into the authorization code below, so no consent prompt is forced.
    if (scope.split(' ').includes('offline_access') && !q.has(OFFLINE_MARK)) {
      q.set(OFFLINE_MARK, '1');
      ctx.querystring = q.toString();
    }
  }

  if (ctx.path === '/token' && ctx.method === 'POST') {
    await tokenEndpoint(ctx, next);
    return;
  }

  if (ctx.path === '/device/auth' && ctx.method === 'POST') {
    await next();
    const body = ctx.body;
    const ok = ctx.status === 200 && body && typeof body === 'object' && body.device_code;
    if (ok) {
      body.interval = cfg.device_interval;
      body.message = `To sign in, use a web browser to open the page ${body.verification_uri} and enter the code ${body.user_code} to authenticate.`;
      if (!cfg.verification_uri_complete) delete body.verification_uri_complete;
      const now = Date.now();
      // oidc-provider's expiry has one-second granularity (exp = iat + ttl in epoch seconds).
      const exp = ctx.oidc?.entities?.DeviceCode?.exp ?? Math.floor(now / 1000) + body.expires_in;
      deviceCodes.set(body.device_code, {
        user_code: body.user_code,
        client_id: ctx.oidc?.client?.clientId ?? null,
        issued_at: now,
        expires_at: exp * 1000,
        interval: cfg.device_interval,
        last_poll: now,
        polls: 0,
        slow_down_left: cfg.device_slow_down,
        state: 'pending',
      });
      userCodes.set(normUserCode(body.user_code), body.device_code);
    }
    logEvent({
      event: 'device_authorization',
      client_id: ctx.oidc?.client?.clientId ?? null,
      status: ctx.status,
      outcome: ok ? 'ok' : 'error',
      error: ok ? undefined : body?.error,
      scope: ctx.oidc?.params?.scope,
      user_code: ok ? body.user_code : undefined,
      interval: ok ? body.interval : undefined,
      expires_in: ok ? body.expires_in : undefined,
    });
    return;
  }

  await next();

  // Put offline_access back into a freshly minted authorization code (see above).
  const code = ctx.oidc?.entities?.AuthorizationCode;
  if (code && ctx.oidc.params?.[OFFLINE_MARK] && !code.scopes.has('offline_access')
      && ctx.oidc.client?.grantTypeAllowed('refresh_token')) {
    code.scope = [code.scope, 'offline_access'].filter(Boolean).join(' ');
    await code.save();
  }
});

async function tokenEndpoint(ctx, next) {
  const started = Date.now();
  const raw = await readRawBody(ctx);
  const params = Object.fromEntries(new URLSearchParams(raw));
  // Hand the already-read body to oidc-provider (its parser falls back to req.body).
  ctx.req.body = raw;
  const grantType = params.grant_type ?? null;
  const clientId = clientIdFrom(ctx, params);
  const entry = {
    event: 'token',
    grant_type: grantType === 'urn:ietf:params:oauth:grant-type:device_code' ? 'device_code' : grantType,
    grant_type_raw: grantType,
    client_id: clientId,
    auth_method: authMethodOf(ctx, params),
    scope: params.scope,
    resource: params.resource,
    client_request_id: ctx.get('client-request-id') || undefined,
  };
  let forced = null;

  if (entry.grant_type === 'refresh_token' && cfg.hold_refresh) {
    await new Promise((release) => heldRefreshes.push(release));
  }
  const forcedError = takeForcedError(entry.grant_type, clientId) ?? takeForcedError(grantType, clientId);
  if (forcedError) {
    forced = forcedError.preset ?? `AADSTS${forcedError.code ?? ''}`;
    if (forcedError.drop) {
      logEvent({ ...entry, status: 0, outcome: 'error', error: 'connection_dropped', forced, duration_ms: Date.now() - started });
      ctx.req.socket.destroy();
      ctx.respond = false;
      return;
    }
    const headers = forcedError.retry_after !== undefined ? { 'retry-after': forcedError.retry_after } : {};
    if (forcedError.html) {
      ctx.status = forcedError.status;
      ctx.type = 'text/html';
      ctx.body = '<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>';
    } else {
      const vars = {
        client_id: clientId ?? '', scope: params.scope ?? '', redirect_uri: params.redirect_uri ?? '',
        issued: new Date(Date.now() - 86400000).toISOString(), now: new Date().toISOString(),
      };
      const body = msDecorate({
        error: forcedError.error,
        error_description: fill(forcedError.description ?? '', vars),
        ...forcedError.extra,
      }, { code: forcedError.code, correlationId: ctx.get('client-request-id') });
      setJsonError(ctx, forcedError.status, body, headers);
    }
  } else if (entry.grant_type === 'device_code' && deviceCodes.has(params.device_code)) {
    const s = deviceCodes.get(params.device_code);
    const now = Date.now();
    s.polls += 1;
    const gap = now - s.last_poll;
    s.last_poll = now;
    if (s.state === 'done') {
      // let oidc-provider answer (a second redemption revokes the grant, as it should)
    } else if (now >= s.expires_at) {
      s.state = 'expired';
      forced = 'expired';
      deviceError(ctx, 'expired_token', 'device code is expired');
    } else if (s.state === 'declined') {
      forced = 'declined';
      deviceError(ctx, cfg.device_errors === 'microsoft' ? 'authorization_declined' : 'access_denied', 'End-User denied the authorization request');
    } else if (s.slow_down_left > 0) {
      s.slow_down_left -= 1;
      s.interval += 5;
      forced = 'slow_down';
      deviceError(ctx, 'slow_down', `polling too fast; poll every ${s.interval} seconds`);
    } else if (cfg.enforce_interval && gap < s.interval * 1000 - cfg.interval_tolerance_ms) {
      s.interval += 5;
      forced = 'interval';
      entry.poll_gap_ms = gap;
      deviceError(ctx, 'slow_down', `polled after ${gap} ms; the interval is now ${s.interval} seconds`);
    }
  }

  if (!forced) {
    if (entry.grant_type === 'refresh_token' && cfg.refresh_delay_ms > 0) await sleep(cfg.refresh_delay_ms);
    await next();
    const body = ctx.body;
    if (entry.grant_type === 'device_code' && body && typeof body === 'object') {
      const s = deviceCodes.get(params.device_code);
      if (s && body.access_token) s.state = 'done';
      if (body.error === 'access_denied' && s) s.state = 'declined';
      if (cfg.device_errors === 'microsoft') {
        if (body.error === 'access_denied') body.error = 'authorization_declined';
        if (body.error === 'invalid_grant' && ctx.state.grantError?.detail === 'device code not found') {
          body.error = 'bad_verification_code';
          body.error_description = 'the device code is not recognised';
        }
      }
    }
    if (ctx.status === 200 && body?.access_token && cfg.refresh_in) body.refresh_in = cfg.refresh_in;
    if (ctx.status === 200 && body?.access_token && cfg.bad_signature_next > 0) {
      cfg.bad_signature_next -= 1;
      body.access_token = resign(body.access_token);
      entry.bad_signature = true;
    }
    if (ctx.status >= 400 && body && typeof body === 'object' && body.error && cfg.ms_error_fields) {
      ctx.body = msDecorate(body, { code: KNOWN_CODES[body.error], correlationId: ctx.get('client-request-id') });
    }
  }

  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
  const ok = ctx.status === 200 && !!body.access_token;
  logEvent({
    ...entry,
    status: ctx.status,
    outcome: ok ? 'ok' : 'error',
    error: ok ? undefined : (body.error ?? `http_${ctx.status}`),
    error_description: ok ? undefined : body.error_description,
    error_detail: ctx.state.grantError?.detail,
    forced: forced ?? undefined,
    retry_after: ctx.response.get('retry-after') || undefined,
    issued: ok ? {
      access_token: true,
      refresh_token: !!body.refresh_token,
      id_token: !!body.id_token,
      expires_in: body.expires_in,
      scope: body.scope,
    } : undefined,
    duration_ms: Date.now() - started,
  });
}

// ---------------------------------------------------------------------------------------------
// go

server.on('request', provider.callback());

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  if (logFd !== null) fs.closeSync(logFd);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`${JSON.stringify({
  ready: true,
  issuer: ISSUER,
  port: actualPort,
  pid: process.pid,
  kid: key.kid,
  log: args.log ?? null,
})}\n`);
