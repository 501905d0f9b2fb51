#!/usr/bin/env node
// A minimal, deliberately broken OpenID Provider for the negative tests of Alta's sign-in
// through an external provider. The authorization endpoint shows no screen: it redirects
// straight back with code=<mode>.<id>, and the token endpoint answers with an ID token
// broken as the mode says.
//
// It is also a stand-in enterprise IdP for enterprise-managed authorization (the MCP
// extension io.modelcontextprotocol/enterprise-managed-authorization,
// draft-ietf-oauth-identity-assertion-authz-grant): the token endpoint does the RFC 8693
// token exchange of an ID token for an Identity Assertion JWT Authorization Grant (ID-JAG),
// and POST /id-jag hands out one directly, each broken as its own set of modes says.
// See README.md beside this file for the modes.

import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import {
  SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify,
} from 'jose';

import {
  AUTH_METHODS, DEFAULT_ACCOUNTS, checkIssuer, listen, parseOptions, parsePort, shutdownOn, usage,
  writeReadyFile,
} from './common.mjs';

// mode -> what it does. The first group is the brief's; the second, extra near-misses.
const MODES = {
  ok: 'a valid ID token echoing the nonce of the authorization request',
  wrong_aud: 'aud is another client',
  wrong_iss: 'iss is another issuer (https://idp.evil.example)',
  wrong_nonce: 'nonce is not the one sent',
  expired: 'exp 10 minutes ago (iat 15 minutes ago)',
  unknown_kid: 'signed RS256 by a key that is not in the JWKS, kid k2',
  alg_none: 'alg "none", no signature',
  hs256_jwks_secret: 'HS256 (kid k1) with the JWKS document text as the HMAC secret',
  no_email_verified: 'no email_verified claim',
  unverified_email: 'email_verified false',
  wrong_callback_iss: 'the callback carries iss=https://idp.evil.example; the ID token is valid',
  error: 'the authorization endpoint redirects back with error=access_denied',
  slow: 'the token endpoint never answers',
  // extras
  iss_trailing_slash: 'iss is the issuer with a trailing slash',
  wrong_azp: 'aud [client_id, "other-client"] with azp "other-client"',
  iat_future: 'iat 10 minutes ahead',
  no_nonce: 'no nonce claim although the request sent one',
  bad_signature: 'a valid token whose signature is altered',
};

// ID-JAG modes: each breaks one thing of the ID-JAG (`mode` of POST /id-jag, `jag_mode` of
// the token exchange).
const JAG_MODES = {
  ok: 'a valid ID-JAG',
  wrong_typ: 'typ JWT instead of oauth-id-jag+jwt',
  no_typ: 'no typ header',
  wrong_iss: 'iss is another issuer (https://idp.evil.example)',
  wrong_aud: 'aud is another authorization server (https://as.evil.example)',
  no_resource: 'no resource claim',
  wrong_resource: 'resource is another one (https://mcp.evil.example/mcp)',
  wrong_client_id: 'client_id is some-other-client',
  expired: 'exp 10 minutes ago (iat 15 minutes ago)',
  too_long: 'exp is iat + 3600',
  iat_future: 'iat 10 minutes ahead (exp 15 minutes ahead)',
  unknown_kid: 'signed RS256 by a key that is not in the JWKS, kid k2',
  alg_none: 'alg "none", no signature',
  hs256_jwks_secret: 'HS256 (kid k1) with the JWKS document text as the HMAC secret',
  bad_signature: 'a valid ID-JAG whose signature is altered',
  no_jti: 'no jti claim',
  unverified_email: 'email_verified false',
};

const EVIL_ISSUER = 'https://idp.evil.example';
const EVIL_AS = 'https://as.evil.example';
const EVIL_RESOURCE = 'https://mcp.evil.example/mcp';
const OTHER_CLIENT = 'some-other-client';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYP = 'oauth-id-jag+jwt';
const ID_JAG_LIFETIME = 300;

const SPEC = {
  port: { env: 'FAKE_IDP_PORT', default: '0', help: 'port on 127.0.0.1 (0: any free port; read it from --ready-file)' },
  host: { env: 'FAKE_IDP_HOST', default: '127.0.0.1', help: 'address to listen on (keep it loopback)' },
  issuer: { env: 'FAKE_IDP_ISSUER', default: 'http://127.0.0.1:<port>', help: 'issuer identifier' },
  'client-id': { env: 'FAKE_IDP_CLIENT_ID', default: 'alta', help: 'the client it knows' },
  'client-secret': { env: 'FAKE_IDP_CLIENT_SECRET', default: 'alta-idp-test-secret', help: 'its secret' },
  'redirect-uri': {
    env: 'FAKE_IDP_REDIRECT_URI', multiple: true, help: 'when given, the only redirect URIs accepted (otherwise any)',
  },
  'auth-method': {
    env: 'FAKE_IDP_AUTH_METHOD', default: 'client_secret_basic', help: 'client_secret_basic or client_secret_post: the only token endpoint auth method advertised and accepted',
  },
  mode: { env: 'FAKE_IDP_MODE', default: 'ok', help: 'the mode when the authorization request has no mode parameter' },
  'ready-file': { env: 'FAKE_IDP_READY_FILE', help: 'file to write the issuer URL to once listening' },
};

let opts;
try {
  opts = parseOptions(SPEC);
  if (opts.help) {
    const list = (modes) => Object.entries(modes).map(([m, d]) => `  ${m}: ${d}`).join('\n');
    console.log(usage('fake.mjs', SPEC, `A deliberately broken OpenID Provider. Modes:\n${list(MODES)}\n\nID-JAG modes (POST /id-jag mode=…, token exchange jag_mode=…):\n${list(JAG_MODES)}`));
    process.exit(0);
  }
  if (!AUTH_METHODS.includes(opts['auth-method'])) throw new Error(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
  if (!(opts.mode in MODES)) throw new Error(`unknown --mode ${opts.mode}`);
} catch (err) {
  console.error(`fake.mjs: ${err.message}`);
  process.exit(2);
}

const clientId = opts['client-id'];
const clientSecret = opts['client-secret'];
const authMethod = opts['auth-method'];
const redirectUris = opts['redirect-uri'];
const control = { mode: opts.mode, email: DEFAULT_ACCOUNTS[0].email };

// The one key of the JWKS (kid k1) and one that is not in it (kid k2).
const k1 = await generateKeyPair('RS256', { extractable: true });
const k2 = await generateKeyPair('RS256', { extractable: true });
const publicJwk = { ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
// Served byte for byte at /jwks, and the HMAC secret of hs256_jwks_secret.
const JWKS_TEXT = JSON.stringify({ keys: [publicJwk] });

// code -> { mode, nonce, email, sub, codeChallenge, redirectUri, used }
const codes = new Map();

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => {
  handler(req, res).catch((err) => {
    console.error('fake.mjs:', err);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
  });
});
const port = await listen(server, parsePort(opts.port), opts.host);
const issuer = checkIssuer(opts.issuer === SPEC.issuer.default ? `http://127.0.0.1:${port}` : opts.issuer);

const discovery = {
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  jwks_uri: `${issuer}/jwks`,
  response_types_supported: ['code'],
  response_modes_supported: ['query'],
  grant_types_supported: ['authorization_code', TOKEN_EXCHANGE],
  subject_types_supported: ['public'],
  id_token_signing_alg_values_supported: ['RS256'],
  code_challenge_methods_supported: ['S256'],
  token_endpoint_auth_methods_supported: [authMethod],
  scopes_supported: ['openid', 'email', 'profile'],
  claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'email', 'email_verified', 'name'],
  authorization_response_iss_parameter_supported: true,
};

handler = async (req, res) => {
  const url = new URL(req.url, issuer);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /.well-known/openid-configuration':
      return json(res, 200, discovery);
    case 'GET /jwks':
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'no-store' });
      return res.end(JWKS_TEXT);
    case 'GET /authorize':
      return authorize(url.searchParams, res);
    case 'POST /token':
      return token(req, res);
    case 'POST /id-jag':
      return idJagShortcut(req, res);
    case 'GET /control':
      return json(res, 200, control);
    case 'POST /control': {
      const body = await readBody(req);
      const values = (req.headers['content-type'] ?? '').startsWith('application/json')
        ? JSON.parse(body || '{}') : querystring.parse(body);
      if (values.mode !== undefined) {
        if (!(values.mode in MODES)) return json(res, 400, { error: `unknown mode ${values.mode}` });
        control.mode = values.mode;
      }
      if (values.email !== undefined) control.email = String(values.email);
      return json(res, 200, control);
    }
    default:
      return json(res, 404, { error: 'not_found', path: url.pathname });
  }
};

writeReadyFile(opts['ready-file'], issuer);
console.log(`fake.mjs: issuer ${issuer} listening on ${opts.host}:${port}, client ${clientId} (${authMethod}), default mode ${control.mode}`);
shutdownOn(server, 'fake.mjs');

// --- endpoints -----------------------------------------------------------------------

function authorize(q, res) {
  const redirectUri = q.get('redirect_uri');
  if (q.get('client_id') !== clientId) return page(res, 400, `unknown client_id ${q.get('client_id')}`);
  if (!redirectUri || !URL.canParse(redirectUri)) return page(res, 400, 'redirect_uri missing or invalid');
  if (redirectUris && !redirectUris.includes(redirectUri)) return page(res, 400, `redirect_uri not registered: ${redirectUri}`);

  const mode = q.get('mode') ?? control.mode;
  if (!(mode in MODES)) return page(res, 400, `unknown mode ${mode}`);
  const state = q.get('state') ?? undefined;
  const back = (params) => {
    const to = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) to.searchParams.set(k, v);
    res.writeHead(302, { Location: to.href, 'Cache-Control': 'no-store' });
    res.end();
  };

  if (q.get('response_type') !== 'code') {
    return back({ error: 'unsupported_response_type', state, iss: issuer });
  }
  if (!q.get('code_challenge') || q.get('code_challenge_method') !== 'S256') {
    return back({
      error: 'invalid_request', error_description: 'PKCE with code_challenge_method=S256 is required', state, iss: issuer,
    });
  }
  if (mode === 'error') {
    return back({
      error: 'access_denied', error_description: 'The user denied the request (fake mode error)', state, iss: issuer,
    });
  }

  const email = q.get('login_hint') || control.email;
  const code = `${mode}.${randomBytes(12).toString('base64url')}`;
  codes.set(code, {
    mode,
    email,
    sub: q.get('sub') || subFor(email),
    nonce: q.get('nonce') ?? undefined,
    codeChallenge: q.get('code_challenge'),
    redirectUri,
    used: false,
  });
  return back({ code, state, iss: mode === 'wrong_callback_iss' ? EVIL_ISSUER : issuer });
}

async function token(req, res) {
  const body = querystring.parse(await readBody(req));
  const one = (name) => (Array.isArray(body[name]) ? undefined : body[name]);

  // Client authentication: only the advertised method.
  const header = req.headers.authorization;
  let id;
  let secret;
  if (authMethod === 'client_secret_basic') {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
    if (!m || body.client_secret !== undefined) {
      return json(res, 401, { error: 'invalid_client', error_description: 'client_secret_basic required' }, { 'WWW-Authenticate': 'Basic realm="fake"' });
    }
    // RFC 6749 2.3.1: client_id and client_secret are form-urlencoded before base64.
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    try {
      if (i < 0) throw new Error('no colon');
      id = decodeURIComponent(decoded.slice(0, i).replace(/\+/g, '%20'));
      secret = decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, '%20'));
    } catch {
      return json(res, 401, { error: 'invalid_client', error_description: 'malformed Basic credentials' });
    }
  } else {
    if (header !== undefined) {
      return json(res, 401, { error: 'invalid_client', error_description: 'client_secret_post required' });
    }
    id = one('client_id');
    secret = one('client_secret');
  }
  if (id !== clientId || secret !== clientSecret) {
    return json(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
  }
  if (one('grant_type') === TOKEN_EXCHANGE) return tokenExchange(body, res);
  if (one('grant_type') !== 'authorization_code') {
    return json(res, 400, {
      error: 'unsupported_grant_type', error_description: `grant_type must be authorization_code or ${TOKEN_EXCHANGE}`,
    });
  }

  const code = one('code') ?? '';
  let grant = codes.get(code);
  if (grant) {
    if (grant.used) return json(res, 400, { error: 'invalid_grant', error_description: 'code already used' });
    grant.used = true;
    if (one('redirect_uri') !== grant.redirectUri) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri does not match' });
    }
    const verifier = one('code_verifier');
    if (!verifier || createHash('sha256').update(verifier).digest('base64url') !== grant.codeChallenge) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
  } else if (code in MODES) {
    // A bare mode as the code, for tests that call the token endpoint directly: no nonce,
    // no PKCE, the current default e-mail.
    grant = {
      mode: code, email: control.email, sub: subFor(control.email), nonce: undefined,
    };
  } else {
    return json(res, 400, { error: 'invalid_grant', error_description: 'unknown code' });
  }

  if (grant.mode === 'slow') {
    // Never answer; the connection stays open until the client gives up or we stop.
    return undefined;
  }
  return json(res, 200, {
    access_token: randomBytes(24).toString('base64url'),
    token_type: 'Bearer',
    expires_in: 300,
    scope: 'openid email profile',
    id_token: await idToken(grant),
  });
}

// RFC 8693 token exchange: an ID token this fake issued to the client (or, for tests, the
// literal `email:<address>`) for an ID-JAG. The client has already authenticated.
async function tokenExchange(body, res) {
  const invalid = (error, description) => json(res, 400, { error, error_description: description });
  const bad = (description) => invalid('invalid_request', description);
  const repeated = Object.keys(body).filter((k) => Array.isArray(body[k]));
  if (repeated.length) return bad(`parameter repeated: ${repeated.join(', ')} (one audience and one resource only)`);
  if (body.requested_token_type !== ID_JAG_TYPE) return bad(`requested_token_type must be ${ID_JAG_TYPE}`);
  if (!body.subject_token) return bad('subject_token missing');
  if (body.subject_token_type !== ID_TOKEN_TYPE) return bad(`subject_token_type must be ${ID_TOKEN_TYPE}`);
  if (body.actor_token !== undefined || body.actor_token_type !== undefined) return bad('actor tokens are not used here');
  if (!body.audience) return bad('audience missing (the issuer of the MCP authorization server)');
  if (!body.resource) return bad('resource missing (the resource identifier of the MCP server)');
  const mode = body.jag_mode || 'ok';
  if (!Object.hasOwn(JAG_MODES, mode)) return bad(`unknown jag_mode ${mode}`);

  let person;
  if (body.subject_token.startsWith('email:')) {
    const email = body.subject_token.slice('email:'.length);
    if (!email) return invalid('invalid_grant', 'subject_token email: names no one');
    person = { email, sub: subFor(email) };
  } else {
    try {
      person = await verifySubjectToken(body.subject_token);
    } catch (err) {
      return invalid('invalid_grant', `subject_token refused: ${err.message}`);
    }
  }

  const scope = body.scope || undefined;
  const jag = await idJag({
    mode,
    ...person,
    audience: body.audience,
    resource: body.resource,
    clientId: body.jag_client_id || clientId,
    scope,
  });
  return json(res, 200, {
    access_token: jag,
    issued_token_type: ID_JAG_TYPE,
    token_type: 'N_A',
    expires_in: ID_JAG_LIFETIME,
    ...(scope === undefined ? {} : { scope }),
  }, { Pragma: 'no-cache' });
}

// An ID token of this fake, for this client: RS256 by k1, iss, aud, exp (60 s leeway), iat
// not ahead. Throws with the reason otherwise.
async function verifySubjectToken(token) {
  if (decodeProtectedHeader(token).typ === ID_JAG_TYP) throw new Error('an ID-JAG is not an ID token');
  const { payload } = await jwtVerify(token, k1.publicKey, {
    issuer, audience: clientId, algorithms: ['RS256'], clockTolerance: 60, requiredClaims: ['sub', 'iat', 'exp'],
  });
  if (payload.iat > Math.floor(Date.now() / 1000) + 60) throw new Error('iat is in the future');
  return { sub: payload.sub, email: typeof payload.email === 'string' ? payload.email : undefined };
}

// POST /id-jag (test only, no client authentication): an ID-JAG without an ID token.
async function idJagShortcut(req, res) {
  const bad = (description) => json(res, 400, { error: 'invalid_request', error_description: description });
  const body = await readBody(req);
  let values;
  try {
    values = (req.headers['content-type'] ?? '').startsWith('application/json')
      ? JSON.parse(body || '{}') : querystring.parse(body);
  } catch {
    return bad('the body is not JSON');
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return bad('the body must be an object');
  const fields = ['email', 'sub', 'audience', 'resource', 'client_id', 'scope', 'mode', 'jti'];
  for (const k of fields) {
    if (values[k] !== undefined && typeof values[k] !== 'string') return bad(`${k} must be one string`);
  }
  if (!values.audience) return bad('audience missing (the issuer of the MCP authorization server)');
  if (!values.resource) return bad('resource missing (the resource identifier of the MCP server)');
  const mode = values.mode || 'ok';
  if (!Object.hasOwn(JAG_MODES, mode)) return bad(`unknown mode ${mode}`);

  let email = values.email || undefined;
  let sub = values.sub || undefined;
  if (email === undefined && sub === undefined) email = control.email;
  if (sub === undefined) sub = subFor(email);
  else if (email === undefined) email = DEFAULT_ACCOUNTS.find((a) => a.sub === sub)?.email;

  const jag = await idJag({
    mode,
    sub,
    email,
    audience: values.audience,
    resource: values.resource,
    clientId: values.client_id || clientId,
    scope: values.scope || undefined,
    jti: values.jti,
  });
  return json(res, 200, { id_jag: jag });
}

// --- the ID token of each mode ---------------------------------------------------------

async function idToken({
  mode, email, sub, nonce,
}) {
  const now = Math.floor(Date.now() / 1000);
  const account = DEFAULT_ACCOUNTS.find((a) => a.email === email);
  const payload = {
    iss: issuer,
    sub,
    aud: clientId,
    iat: now,
    exp: now + 300,
    auth_time: now,
    ...(nonce === undefined ? {} : { nonce }),
    email,
    email_verified: true,
    ...(account ? { name: account.name } : {}),
  };
  switch (mode) {
    case 'ok':
    case 'wrong_callback_iss':
    case 'bad_signature':
    case 'unknown_kid':
    case 'alg_none':
    case 'hs256_jwks_secret':
      break;
    case 'wrong_aud':
      payload.aud = 'some-other-client';
      break;
    case 'wrong_iss':
      payload.iss = EVIL_ISSUER;
      break;
    case 'iss_trailing_slash':
      payload.iss = `${issuer}/`;
      break;
    case 'wrong_nonce':
      payload.nonce = 'not-the-nonce-you-sent';
      break;
    case 'no_nonce':
      delete payload.nonce;
      break;
    case 'expired':
      payload.iat = now - 900;
      payload.auth_time = now - 900;
      payload.exp = now - 600;
      break;
    case 'iat_future':
      payload.iat = now + 600;
      payload.exp = now + 900;
      break;
    case 'wrong_azp':
      payload.aud = [clientId, 'other-client'];
      payload.azp = 'other-client';
      break;
    case 'no_email_verified':
      delete payload.email_verified;
      break;
    case 'unverified_email':
      payload.email_verified = false;
      break;
    default:
      throw new Error(`no ID token for mode ${mode}`);
  }
  return sign(payload, 'JWT', mode);
}

// Signs RS256 with k1 (kid k1) and the given typ (none: no typ header), or breaks the
// signature as `how` says: unknown_kid, alg_none, hs256_jwks_secret, bad_signature.
async function sign(payload, typ, how) {
  const header = { alg: 'RS256', kid: 'k1', ...(typ === undefined ? {} : { typ }) };
  let key = k1.privateKey;
  switch (how) {
    case 'unknown_kid':
      header.kid = 'k2';
      key = k2.privateKey;
      break;
    case 'alg_none': {
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${b64({ alg: 'none', ...(typ === undefined ? {} : { typ }) })}.${b64(payload)}.`;
    }
    case 'hs256_jwks_secret':
      header.alg = 'HS256';
      key = new TextEncoder().encode(JWKS_TEXT);
      break;
    default:
      break;
  }
  const jwt = await new SignJWT(payload).setProtectedHeader(header).sign(key);
  if (how === 'bad_signature') {
    const [h, p, s] = jwt.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[0] ^= 0xff;
    return `${h}.${p}.${sig.toString('base64url')}`;
  }
  return jwt;
}

// --- the ID-JAG of each mode ----------------------------------------------------------

// The Identity Assertion JWT Authorization Grant: typ oauth-id-jag+jwt, RS256 by k1, for
// `audience` (the MCP authorization server), `resource` (the MCP server) and `clientId` (the
// client's id at that authorization server), broken as `mode` says.
async function idJag({
  mode, sub, email, audience, resource, clientId: forClient, scope, jti,
}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer,
    sub,
    aud: audience,
    client_id: forClient,
    resource,
    jti: jti ?? randomBytes(16).toString('base64url'),
    iat: now,
    exp: now + ID_JAG_LIFETIME,
    ...(scope === undefined ? {} : { scope }),
    ...(email === undefined ? {} : { email, email_verified: true }),
  };
  let typ = ID_JAG_TYP;
  switch (mode) {
    case 'ok':
    case 'unknown_kid':
    case 'alg_none':
    case 'hs256_jwks_secret':
    case 'bad_signature':
      break;
    case 'wrong_typ':
      typ = 'JWT';
      break;
    case 'no_typ':
      typ = undefined;
      break;
    case 'wrong_iss':
      payload.iss = EVIL_ISSUER;
      break;
    case 'wrong_aud':
      payload.aud = EVIL_AS;
      break;
    case 'no_resource':
      delete payload.resource;
      break;
    case 'wrong_resource':
      payload.resource = EVIL_RESOURCE;
      break;
    case 'wrong_client_id':
      payload.client_id = OTHER_CLIENT;
      break;
    case 'expired':
      payload.iat = now - 900;
      payload.exp = now - 600;
      break;
    case 'too_long':
      payload.exp = payload.iat + 3600;
      break;
    case 'iat_future':
      payload.iat = now + 600;
      payload.exp = now + 900;
      break;
    case 'no_jti':
      delete payload.jti;
      break;
    case 'unverified_email':
      payload.email_verified = false;
      break;
    default:
      throw new Error(`no ID-JAG for mode ${mode}`);
  }
  return sign(payload, typ, mode);
}

// --- helpers -------------------------------------------------------------------------

function subFor(email) {
  const account = DEFAULT_ACCOUNTS.find((a) => a.email.toLowerCase() === String(email).toLowerCase());
  return account ? account.sub : `fake-${createHash('sha256').update(String(email)).digest('hex').slice(0, 16)}`;
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers,
  });
  res.end(JSON.stringify(value));
}

function page(res, status, message) {
  const esc = String(message).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'none'" });
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Fake IdP error</title></head><body><h1>Error</h1><p id="error">${esc}</p></body></html>`);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
