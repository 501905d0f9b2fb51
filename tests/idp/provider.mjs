#!/usr/bin/env node
// A real OpenID Provider on loopback for Alta's sign-in through an external provider:
// panva's oidc-provider with one confidential client, PKCE (S256) required, the
// authorization code flow only, a signing key made at start, fixed test accounts and a
// plain login + consent screen; optionally a second client, an enterprise app, whose ID
// tokens it exchanges for ID-JAGs (RFC 8693). See README.md beside this file.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import {
  calculateJwkThumbprint, exportJWK, generateKeyPair, jwtVerify, SignJWT,
} from 'jose';
import Provider, { errors } from 'oidc-provider';

import {
  AUTH_METHODS, checkIssuer, listen, loadAccounts, parseOptions, parsePort, shutdownOn, usage,
  writeReadyFile,
} from './common.mjs';

const SPEC = {
  port: { env: 'IDP_PORT', default: '0', help: 'port on 127.0.0.1 (0: any free port; read it from --ready-file)' },
  host: { env: 'IDP_HOST', default: '127.0.0.1', help: 'address to listen on (keep it loopback)' },
  issuer: { env: 'IDP_ISSUER', help: 'issuer identifier', default: 'http://127.0.0.1:<port>' },
  'client-id': { env: 'IDP_CLIENT_ID', default: 'alta', help: 'the one registered client' },
  'client-secret': { env: 'IDP_CLIENT_SECRET', default: 'alta-idp-test-secret', help: 'its secret' },
  'redirect-uri': {
    env: 'IDP_REDIRECT_URI', multiple: true, default: ['http://127.0.0.1:3000/authorize/callback'], help: 'its redirect URIs',
  },
  'auth-method': {
    env: 'IDP_AUTH_METHOD', default: 'client_secret_basic', help: 'client_secret_basic or client_secret_post: the only token endpoint auth method advertised and accepted',
  },
  alg: { env: 'IDP_ALG', default: 'RS256', help: 'ID token signing alg: RS256 or ES256' },
  'ready-file': { env: 'IDP_READY_FILE', help: 'file to write the issuer URL to once listening' },
  accounts: { env: 'IDP_ACCOUNTS', help: 'JSON file: an array of {sub, email, email_verified, name} replacing the default accounts' },
  'app-client-id': {
    env: 'IDP_APP_CLIENT_ID', help: 'an enterprise app: a second client, whose ID tokens the token endpoint exchanges for ID-JAGs (RFC 8693)',
  },
  'app-client-secret': { env: 'IDP_APP_CLIENT_SECRET', default: 'app-idp-test-secret', help: 'its secret' },
  'app-redirect-uri': {
    env: 'IDP_APP_REDIRECT_URI', multiple: true, default: ['http://127.0.0.1/app/callback'], help: 'its redirect URIs',
  },
  'app-audience-client-id': {
    env: 'IDP_APP_AUDIENCE_CLIENT_ID', help: "the app's client_id at the authorization server its ID-JAGs are for (their client_id claim); default: --app-client-id",
  },
};

let opts;
try {
  opts = parseOptions(SPEC);
  if (opts.help) {
    console.log(usage('provider.mjs', SPEC, 'A real OpenID Provider (oidc-provider) on loopback.'));
    process.exit(0);
  }
  if (!AUTH_METHODS.includes(opts['auth-method'])) throw new Error(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
  if (!['RS256', 'ES256'].includes(opts.alg)) throw new Error('--alg must be RS256 or ES256');
  for (const uri of [...opts['redirect-uri'], ...opts['app-redirect-uri']]) new URL(uri); // eslint-disable-line no-new
  if (opts['app-client-id'] === opts['client-id']) throw new Error('--app-client-id must differ from --client-id');
} catch (err) {
  console.error(`provider.mjs: ${err.message}`);
  process.exit(2);
}

const accounts = loadAccounts(opts.accounts, readFileSync);
const bySub = new Map(accounts.map((a) => [a.sub, a]));
const byLogin = new Map();
for (const a of accounts) {
  byLogin.set(a.sub, a);
  byLogin.set(a.email.toLowerCase(), a);
}

// Listen first, so that --port 0 works and the default issuer carries the real port.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
const port = await listen(server, parsePort(opts.port), opts.host);
const issuer = checkIssuer(opts.issuer === SPEC.issuer.default ? `http://127.0.0.1:${port}` : opts.issuer);

// A fresh signing key each start (the RP fetches it from jwks_uri).
const { privateKey, publicKey } = await generateKeyPair(opts.alg, { extractable: true });
const jwk = await exportJWK(privateKey);
jwk.alg = opts.alg;
jwk.use = 'sig';
jwk.kid = await calculateJwkThumbprint(jwk);

const authMethod = opts['auth-method'];
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_JAG_LIFETIME = 300;
const app = opts['app-client-id'] ? {
  clientId: opts['app-client-id'],
  audienceClientId: opts['app-audience-client-id'] || opts['app-client-id'],
} : undefined;
const clients = [{
  client_id: opts['client-id'],
  client_secret: opts['client-secret'],
  redirect_uris: opts['redirect-uri'],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: authMethod,
  id_token_signed_response_alg: opts.alg,
}];
if (app) {
  clients.push({
    client_id: app.clientId,
    client_secret: opts['app-client-secret'],
    redirect_uris: opts['app-redirect-uri'],
    response_types: ['code'],
    grant_types: ['authorization_code', TOKEN_EXCHANGE],
    token_endpoint_auth_method: authMethod,
    id_token_signed_response_alg: opts.alg,
  });
}
const provider = new Provider(issuer, {
  clients,
  // The discovery document's token_endpoint_auth_methods_supported: only the configured one.
  clientAuthMethods: [authMethod],
  responseTypes: ['code'],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // PKCE for every client, confidential ones too (the default asks it of public clients only).
  // oidc-provider 9 supports S256 only: plain is refused.
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    acr: null,
    auth_time: null,
    iss: null,
    sid: null,
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The RP reads only the ID token: put the scopes' claims in it, not only in userinfo.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const account = bySub.get(sub);
    if (!account) return undefined;
    return {
      accountId: account.sub,
      async claims() {
        const { sub: s, email, email_verified: verified, name } = account;
        return {
          sub: s, email, ...(verified === undefined ? {} : { email_verified: verified }), ...(name ? { name } : {}),
        };
      },
    };
  },
  features: {
    // Our own login and consent screens below: the built-in development ones load a web
    // font from the internet and take any login as the account id.
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1>${Object.entries(out)
      .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span id="${esc(k)}">${esc(v)}</span></p>`).join('')}`);
  },
});

provider.on('server_error', (_ctx, err) => console.error('provider.mjs: server_error', err));

// oidc-provider takes client_secret_basic and client_secret_post alike for either
// registered method; a real provider that advertises one may refuse the other, so this
// one does.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/token') {
    const hasBasic = ctx.get('authorization') !== '';
    if (authMethod === 'client_secret_basic' && !hasBasic) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Basic realm="idp"');
      ctx.body = { error: 'invalid_client', error_description: 'this client must authenticate with client_secret_basic' };
      return;
    }
    if (authMethod === 'client_secret_post' && hasBasic) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'this client must authenticate with client_secret_post' };
      return;
    }
  }
  // Pages load nothing from anywhere. oidc-provider adds the hash of the inline script of
  // its auto-submitting forms (form_post, the sign-out on an account switch) to script-src.
  ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'");
  await next();
});

// The login and consent screens.
//   GET  /interaction/:uid        the screen for the current prompt (login or consent)
//   POST /interaction/:uid        prompt=login&login=<email or sub>&password=<anything>
//                                 prompt=consent
//   GET  /interaction/:uid/abort  back to the client with error=access_denied
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([^/]+)(\/abort)?$/.exec(ctx.path);
  if (!m) return next();
  const [, uid, abort] = m;
  ctx.set('Cache-Control', 'no-store');

  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><p id="error">${esc(err.message)}</p>`);
    return undefined;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', '<h1>Error</h1><p id="error">interaction mismatch</p>');
    return undefined;
  }
  const { prompt, params, session } = details;

  const finish = async (result, merge) => {
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge }));
  };

  if (abort) {
    if (ctx.method !== 'GET') { ctx.status = 405; return undefined; }
    return finish({ error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  }

  if (ctx.method === 'GET') {
    ctx.type = 'html';
    if (prompt.name === 'login') {
      ctx.body = loginPage(uid, params);
    } else if (prompt.name === 'consent') {
      ctx.body = consentPage(uid, params, prompt, bySub.get(session?.accountId));
    } else {
      ctx.status = 501;
      ctx.body = page('Error', `<h1>Not implemented</h1><p id="error">prompt ${esc(prompt.name)}</p>`);
    }
    return undefined;
  }
  if (ctx.method !== 'POST') { ctx.status = 405; return undefined; }

  const body = await readForm(ctx.req);
  if (body.prompt !== prompt.name) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><p id="error">expected prompt=${esc(prompt.name)}</p>`);
    return undefined;
  }
  if (prompt.name === 'login') {
    const login = String(body.login ?? '').trim();
    const account = byLogin.get(login) ?? byLogin.get(login.toLowerCase());
    if (!account) {
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = loginPage(uid, params, login, `No account for “${login}”.`);
      return undefined;
    }
    return finish({ login: { accountId: account.sub } }, false);
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    return finish({ consent: { grantId: await grant.save() } }, true);
  }
  ctx.status = 501;
  return undefined;
});

// RFC 8693 token exchange, as an enterprise IdP does it for enterprise-managed
// authorization (Okta's Cross App Access): the app's ID token for this person becomes an
// Identity Assertion JWT Authorization Grant for another authorization server, signed with
// this provider's key. Only the app client registered this grant type; oidc-provider has
// authenticated it before this runs.
if (app) {
  provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
    const p = ctx.oidc.params;
    const bad = (what) => { throw new errors.InvalidRequest(what); };
    if (p.requested_token_type !== ID_JAG_TYPE) bad(`requested_token_type must be ${ID_JAG_TYPE}`);
    if (p.subject_token_type !== ID_TOKEN_TYPE) bad(`subject_token_type must be ${ID_TOKEN_TYPE}`);
    if (!p.subject_token) bad('subject_token missing');
    if (p.actor_token || p.actor_token_type) bad('actor tokens are not used here');
    if (!p.audience) bad('audience missing (the issuer of the authorization server)');
    if (!p.resource) bad('resource missing (the resource server)');
    let sub;
    try {
      ({ payload: { sub } } = await jwtVerify(p.subject_token, publicKey, {
        issuer, audience: app.clientId, algorithms: [opts.alg], requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw new errors.InvalidGrant(`subject_token refused: ${err.message}`);
    }
    const account = bySub.get(sub);
    if (!account) throw new errors.InvalidGrant('subject_token names no account');
    const now = Math.floor(Date.now() / 1000);
    const jag = await new SignJWT({
      client_id: app.audienceClientId,
      resource: p.resource,
      ...(p.scope ? { scope: p.scope } : {}),
      email: account.email,
      ...(account.email_verified === undefined ? {} : { email_verified: account.email_verified }),
    })
      .setProtectedHeader({ alg: opts.alg, kid: jwk.kid, typ: 'oauth-id-jag+jwt' })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(p.audience)
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt(now)
      .setExpirationTime(now + ID_JAG_LIFETIME)
      .sign(privateKey);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      access_token: jag,
      issued_token_type: ID_JAG_TYPE,
      token_type: 'N_A',
      expires_in: ID_JAG_LIFETIME,
      ...(p.scope ? { scope: p.scope } : {}),
    };
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type']);
}

handler = provider.callback();
writeReadyFile(opts['ready-file'], issuer);
console.log(`provider.mjs: issuer ${issuer} listening on ${opts.host}:${port}, client ${opts['client-id']} (${authMethod}), ${opts.alg}${app ? `, enterprise app ${app.clientId} (ID-JAGs for ${app.audienceClientId})` : ''}`);
shutdownOn(server, 'provider.mjs');

// --- pages -------------------------------------------------------------------------

function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Test IdP</title>
<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
input,button{display:block;width:100%;box-sizing:border-box;margin:.5rem 0;padding:.6rem;font-size:1rem}
.error{color:#b00020}.muted{color:#666;font-size:.9rem}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

function loginPage(uid, params, login, error) {
  const value = login ?? params.login_hint ?? '';
  return page('Sign-in', `<h1>Sign-in</h1>
<p class="muted">Test IdP · client <code id="client-id">${esc(params.client_id)}</code></p>
${error ? `<p class="error" id="error">${esc(error)}</p>` : ''}
<form id="login-form" autocomplete="off" action="/interaction/${esc(uid)}" method="post">
<input type="hidden" name="prompt" value="login">
<label for="login">Email</label>
<input id="login" required type="text" name="login" autocomplete="off" placeholder="Email address" value="${esc(value)}"${value ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" type="password" name="password" autocomplete="off" placeholder="Any password"${value ? ' autofocus' : ''}>
<button id="submit" type="submit">Sign-in</button>
</form>
<p><a id="cancel" href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

function consentPage(uid, params, prompt, account) {
  const scopes = (prompt.details.missingOIDCScope ?? []).filter((s) => s !== 'openid');
  return page('Authorize', `<h1>Authorize</h1>
<p>Signed in as <strong id="account">${esc(account?.email ?? '?')}</strong></p>
<p><code id="client-id">${esc(params.client_id)}</code> asks for:</p>
<ul id="scopes">${scopes.map((s) => `<li>${esc(s)}</li>`).join('') || '<li>confirming a previous authorization</li>'}</ul>
<form id="consent-form" autocomplete="off" action="/interaction/${esc(uid)}" method="post">
<input type="hidden" name="prompt" value="consent">
<button id="submit" autofocus type="submit">Continue</button>
</form>
<p><a id="cancel" href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return querystring.parse(Buffer.concat(chunks).toString('utf8'));
}
