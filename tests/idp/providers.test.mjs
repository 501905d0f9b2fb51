// Starts provider.mjs and fake.mjs on free loopback ports and checks them as a relying
// party sees them, with no Alta server: `node --test tests/idp/`.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  compactVerify, createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify,
} from 'jose';

const HERE = dirname(fileURLToPath(import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'alta-idp-test-'));
const CLIENT_ID = 'alta-test-rp';
const CLIENT_SECRET = 'a secret/with+odd:chars&=%';
const REDIRECT_URI = 'http://127.0.0.1:9/authorize/callback';
const ASYMMETRIC = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCOUNTS = {
  'sso@globex.example': { sub: 'globex-sso-0001', email_verified: true },
  'unverified@globex.example': { sub: 'globex-unverified-0002', email_verified: false },
  'nobody@globex.example': { sub: 'globex-nobody-0003', email_verified: true },
  'demo@alta.local': { sub: 'alta-demo-0004', email_verified: true },
  'someone@elsewhere.example': { sub: 'elsewhere-someone-0005', email_verified: true },
};

after(() => rmSync(TMP, { recursive: true, force: true }));

// --- servers ---------------------------------------------------------------------------

let started = 0;
async function start(script, args = [], { port = 0 } = {}) {
  started += 1;
  const readyFile = join(TMP, `ready-${started}`);
  const proc = spawn(process.execPath, [join(HERE, script), '--port', String(port), '--ready-file', readyFile, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => { proc.on('exit', (code, signal) => resolve({ code, signal })); });
  const deadline = Date.now() + 15000;
  while (!existsSync(readyFile)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${script} did not become ready:\n${output}`);
    }
    await new Promise((r) => { setTimeout(r, 50); });
  }
  const issuer = readFileSync(readyFile, 'utf8');
  const base = port ? `http://127.0.0.1:${port}` : issuer;
  const meta = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
  return {
    issuer,
    meta,
    proc,
    exited,
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// --- a minimal RP: PKCE, cookies, redirects by hand -------------------------------------

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

class Browser {
  cookies = new Map(); // name -> { value, path }

  async request(url, { method = 'GET', form, headers = {} } = {}) {
    const u = new URL(url);
    const cookie = [...this.cookies].filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`).join('; ');
    const res = await fetch(u, {
      method,
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      if (expired) this.cookies.delete(name); else this.cookies.set(name, { value, path });
    }
    const location = res.headers.get('location');
    return {
      status: res.status,
      location: location ? new URL(location, u).href : undefined,
      text: await res.text(),
      headers: res.headers,
    };
  }
}

function authorizeUrl(issuer, meta, extra = {}) {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const { verifier, challenge } = pkce();
  const params = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v === undefined) delete params[k];
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams(params).toString();
  return {
    url: url.href, state, nonce, verifier,
  };
}

// Reads <form ... action="X"> and its inputs from one of provider.mjs's screens.
function parseForm(html) {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(form, `no form in:\n${html}`);
  const inputs = {};
  for (const m of form[2].matchAll(/<input\b([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(m[1])?.[1];
    const value = /value="([^"]*)"/.exec(m[1])?.[1] ?? '';
    if (name) inputs[name] = value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  }
  return { action: form[1].replace(/&amp;/g, '&'), inputs };
}

// Follows redirects (GET) until the RP's redirect_uri or a page with a form.
async function follow(browser, url) {
  let res = await browser.request(url);
  let hops = 0;
  while (res.location && !res.location.startsWith(REDIRECT_URI)) {
    assert.ok(hops++ < 10, 'redirect loop');
    res = await browser.request(res.location);
  }
  return res;
}

// Drives the login screen and the consent screen; returns the callback's query.
async function signIn(idp, { login = 'sso@globex.example', extra = {}, browser = new Browser() } = {}) {
  const req = authorizeUrl(idp.issuer, idp.meta, extra);
  let res = await follow(browser, req.url);
  const steps = [];
  while (!res.location) {
    assert.equal(res.status, 200, res.text);
    const form = parseForm(res.text);
    // prompt=login|consent: our screens; none: oidc-provider's auto-submitting form (the
    // sign-out of the previous account when another one signs in), posted as it is.
    steps.push(form.inputs.prompt ?? 'auto-submit');
    const body = {
      login: { prompt: 'login', login, password: 'anything' },
      consent: { prompt: 'consent' },
    }[form.inputs.prompt] ?? form.inputs;
    res = await browser.request(new URL(form.action, idp.issuer).href, { method: 'POST', form: body });
    assert.equal(res.status, 303, res.text);
    res = await follow(browser, res.location);
    assert.ok(steps.length < 4, `too many screens: ${steps}`);
  }
  const callback = new URL(res.location);
  return {
    ...req, browser, steps, callback, query: Object.fromEntries(callback.searchParams),
  };
}

function basicAuth(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function exchange(idp, { code, verifier }, method, overrides = {}) {
  const form = {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, ...overrides,
  };
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (method === 'client_secret_basic') headers.authorization = basicAuth(CLIENT_ID, CLIENT_SECRET);
  else if (method === 'client_secret_post') Object.assign(form, { client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
  for (const [k, v] of Object.entries(form)) if (v === undefined) delete form[k];
  const res = await fetch(idp.meta.token_endpoint, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

// What Alta will do with the ID token.
async function verifyIdToken(idp, idToken, nonce) {
  const jwks = createRemoteJWKSet(new URL(idp.meta.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(idToken, jwks, {
    issuer: idp.issuer, audience: CLIENT_ID, algorithms: ASYMMETRIC, clockTolerance: 60,
  });
  if (payload.azp !== undefined) assert.equal(payload.azp, CLIENT_ID);
  assert.equal(payload.nonce, nonce);
  return { payload, protectedHeader };
}

// --- provider.mjs ------------------------------------------------------------------------

describe('provider.mjs (oidc-provider)', () => {
  let basic;
  let post;
  before(async () => {
    const common = ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET,
      '--redirect-uri', `${REDIRECT_URI},http://127.0.0.1:9/other`];
    [basic, post] = await Promise.all([
      start('provider.mjs', common),
      start('provider.mjs', [...common, '--auth-method', 'client_secret_post']),
    ]);
  });
  after(async () => {
    await Promise.all([basic?.stop(), post?.stop()]);
  });

  test('discovery and JWKS', async () => {
    const { meta, issuer } = basic;
    assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(meta.issuer, issuer);
    assert.equal(meta.authorization_endpoint, `${issuer}/auth`);
    assert.equal(meta.token_endpoint, `${issuer}/token`);
    assert.equal(meta.jwks_uri, `${issuer}/jwks`);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.token_endpoint_auth_methods_supported, ['client_secret_basic']);
    assert.deepEqual(post.meta.token_endpoint_auth_methods_supported, ['client_secret_post']);
    assert.deepEqual(meta.id_token_signing_alg_values_supported, ['RS256']);
    for (const s of ['openid', 'email', 'profile']) assert.ok(meta.scopes_supported.includes(s));
    for (const c of ['email', 'email_verified', 'name']) assert.ok(meta.claims_supported.includes(c));
    const jwks = await (await fetch(meta.jwks_uri)).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kty, 'RSA');
    assert.equal(jwks.keys[0].alg, 'RS256');
    assert.ok(jwks.keys[0].kid);
    assert.equal(jwks.keys[0].d, undefined, 'no private part');
  });

  test('code + PKCE flow, login and consent screens, client_secret_basic, ID token verified', async () => {
    const flow = await signIn(basic, { login: 'sso@globex.example' });
    assert.deepEqual(flow.steps, ['login', 'consent']);
    assert.equal(`${flow.callback.origin}${flow.callback.pathname}`, REDIRECT_URI);
    assert.equal(flow.query.state, flow.state);
    assert.equal(flow.query.iss, basic.issuer, 'RFC 9207 iss on the callback');
    assert.ok(flow.query.code);

    const token = await exchange(basic, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(token.body.token_type, 'Bearer');
    const { payload, protectedHeader } = await verifyIdToken(basic, token.body.id_token, flow.nonce);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, 'globex-sso-0001');
    assert.equal(payload.email, 'sso@globex.example');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Sam Sso');
    assert.ok(payload.exp > payload.iat);

    // The code is single use.
    const again = await exchange(basic, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  test('client_secret_post on the provider that advertises it; each provider refuses the other method', async () => {
    const flow = await signIn(post, { login: 'demo@alta.local' });
    assert.equal(flow.query.iss, post.issuer);
    const wrong = await exchange(post, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_client');
    const token = await exchange(post, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_post');
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const { payload } = await verifyIdToken(post, token.body.id_token, flow.nonce);
    assert.equal(payload.email, 'demo@alta.local');
    assert.equal(payload.sub, 'alta-demo-0004');

    const flow2 = await signIn(basic);
    const wrong2 = await exchange(basic, { code: flow2.query.code, verifier: flow2.verifier }, 'client_secret_post');
    assert.equal(wrong2.status, 401);
    assert.equal(wrong2.body.error, 'invalid_client');
    const badSecret = await fetch(basic.meta.token_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(CLIENT_ID, 'wrong'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: flow2.query.code, redirect_uri: REDIRECT_URI, code_verifier: flow2.verifier,
      }),
    });
    assert.equal(badSecret.status, 401);
  });

  test('every default account signs in, with its email and email_verified in the ID token', async () => {
    for (const [email, { sub, email_verified: verified }] of Object.entries(ACCOUNTS)) {
      const flow = await signIn(basic, { login: email });
      const token = await exchange(basic, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
      assert.equal(token.status, 200, JSON.stringify(token.body));
      const { payload } = await verifyIdToken(basic, token.body.id_token, flow.nonce);
      assert.equal(payload.sub, sub);
      assert.equal(payload.email, email);
      assert.equal(payload.email_verified, verified, email);
    }
  });

  test('login by sub, case-insensitive email; an unknown login stays on the login screen', async () => {
    const bySub = await signIn(basic, { login: 'globex-nobody-0003' });
    const t1 = await exchange(basic, { code: bySub.query.code, verifier: bySub.verifier }, 'client_secret_basic');
    assert.equal(decodeJwt(t1.body.id_token).email, 'nobody@globex.example');

    const upper = await signIn(basic, { login: 'SSO@Globex.Example' });
    const t2 = await exchange(basic, { code: upper.query.code, verifier: upper.verifier }, 'client_secret_basic');
    assert.equal(decodeJwt(t2.body.id_token).sub, 'globex-sso-0001');

    const browser = new Browser();
    const req = authorizeUrl(basic.issuer, basic.meta);
    const screen = await follow(browser, req.url);
    const form = parseForm(screen.text);
    const res = await browser.request(new URL(form.action, basic.issuer).href, {
      method: 'POST', form: { prompt: 'login', login: 'stranger@nowhere.example', password: 'x' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.location, undefined);
    assert.match(res.text, /id="error"/);
    assert.equal(parseForm(res.text).inputs.login, 'stranger@nowhere.example');
  });

  test('the login and consent screens: fields, URLs, login_hint, no outside resources', async () => {
    const browser = new Browser();
    const req = authorizeUrl(basic.issuer, basic.meta, { login_hint: 'someone@elsewhere.example' });
    const first = await browser.request(req.url);
    assert.equal(first.status, 303);
    const uid = /\/interaction\/([^/?#]+)$/.exec(first.location)?.[1];
    assert.ok(uid, first.location);
    assert.equal(first.location, `${basic.issuer}/interaction/${uid}`);
    const login = await browser.request(first.location);
    assert.equal(login.status, 200);
    assert.match(login.headers.get('content-type'), /text\/html/);
    assert.match(login.headers.get('content-security-policy'), /default-src 'none'/);
    assert.doesNotMatch(login.text, /https?:\/\//, 'no outside URL on the page');
    const form = parseForm(login.text);
    assert.equal(form.action, `/interaction/${uid}`);
    assert.deepEqual(form.inputs, { prompt: 'login', login: 'someone@elsewhere.example', password: '' });
    assert.match(login.text, /<a id="cancel" href="\/interaction\/[^"]+\/abort">/);

    const posted = await browser.request(`${basic.issuer}${form.action}`, {
      method: 'POST', form: { prompt: 'login', login: form.inputs.login, password: 'pw' },
    });
    assert.equal(posted.status, 303);
    assert.equal(posted.location, `${basic.issuer}/auth/${uid}`);
    const toConsent = await browser.request(posted.location);
    assert.equal(toConsent.status, 303);
    const uid2 = /\/interaction\/([^/?#]+)$/.exec(toConsent.location)?.[1];
    const consent = await browser.request(toConsent.location);
    const cform = parseForm(consent.text);
    assert.equal(cform.action, `/interaction/${uid2}`);
    assert.deepEqual(cform.inputs, { prompt: 'consent' });
    assert.match(consent.text, /someone@elsewhere\.example/);
    const done = await browser.request(`${basic.issuer}${cform.action}`, { method: 'POST', form: { prompt: 'consent' } });
    assert.equal(done.status, 303);
    assert.equal(done.location, `${basic.issuer}/auth/${uid2}`);
    const back = await browser.request(done.location);
    assert.equal(back.status, 303);
    assert.ok(back.location.startsWith(`${REDIRECT_URI}?code=`), back.location);
  });

  test('a second authorization reuses the session; prompt=login asks again', async () => {
    const first = await signIn(basic, { login: 'sso@globex.example' });
    const { browser } = first;
    const sso = await signIn(basic, { browser });
    assert.deepEqual(sso.steps, [], 'signed in and consented already');
    assert.ok(sso.query.code);
    const same = await signIn(basic, { browser, login: 'sso@globex.example', extra: { prompt: 'login' } });
    assert.deepEqual(same.steps, ['login']);
    const forced = await signIn(basic, { browser, login: 'demo@alta.local', extra: { prompt: 'login' } });
    assert.deepEqual(forced.steps, ['login', 'auto-submit', 'consent']);
    const token = await exchange(basic, { code: forced.query.code, verifier: forced.verifier }, 'client_secret_basic');
    assert.equal(decodeJwt(token.body.id_token).email, 'demo@alta.local');
  });

  test('PKCE is required, S256 only, and checked at the token endpoint', async () => {
    for (const extra of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge_method: 'plain' }]) {
      const browser = new Browser();
      const req = authorizeUrl(basic.issuer, basic.meta, extra);
      const res = await browser.request(req.url);
      assert.equal(res.status, 303);
      const q = new URL(res.location).searchParams;
      assert.ok(res.location.startsWith(REDIRECT_URI), res.location);
      assert.equal(q.get('error'), 'invalid_request');
      assert.equal(q.get('state'), req.state);
      assert.equal(q.get('iss'), basic.issuer);
    }
    const flow = await signIn(basic);
    const wrong = await exchange(basic, { code: flow.query.code, verifier: pkce().verifier }, 'client_secret_basic');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    const flow2 = await signIn(basic);
    const none = await exchange(basic, { code: flow2.query.code, verifier: undefined }, 'client_secret_basic');
    assert.equal(none.body.error, 'invalid_grant');
  });

  test('a redirect_uri that is not registered gets an error page, not a redirect', async () => {
    const browser = new Browser();
    const req = authorizeUrl(basic.issuer, basic.meta, { redirect_uri: 'http://127.0.0.1:9/evil' });
    const res = await browser.request(req.url);
    assert.equal(res.status, 400);
    assert.equal(res.location, undefined);
    assert.doesNotMatch(res.text, /googleapis/);
  });

  test('cancel on the login screen: error=access_denied with state and iss', async () => {
    const browser = new Browser();
    const req = authorizeUrl(basic.issuer, basic.meta);
    const first = await browser.request(req.url);
    const res = await follow(browser, `${first.location}/abort`);
    const q = new URL(res.location).searchParams;
    assert.equal(q.get('error'), 'access_denied');
    assert.equal(q.get('state'), req.state);
    assert.equal(q.get('iss'), basic.issuer);
  });

  test('--accounts, --alg ES256, --issuer localhost; SIGTERM exits 0', async () => {
    const file = join(TMP, 'accounts.json');
    writeFileSync(file, JSON.stringify([
      { sub: 'x-1', email: 'only@example.test', email_verified: true, name: 'Only' },
      { sub: 'x-2', email: 'noclaim@example.test' },
    ]));
    const idp = await start('provider.mjs', [
      '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI,
      '--accounts', file, '--alg', 'ES256',
    ]);
    try {
      assert.deepEqual(idp.meta.id_token_signing_alg_values_supported, ['ES256']);
      const flow = await signIn(idp, { login: 'only@example.test' });
      const token = await exchange(idp, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
      const { payload, protectedHeader } = await verifyIdToken(idp, token.body.id_token, flow.nonce);
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.sub, 'x-1');
      const flow2 = await signIn(idp, { login: 'noclaim@example.test' });
      const token2 = await exchange(idp, { code: flow2.query.code, verifier: flow2.verifier }, 'client_secret_basic');
      const { payload: p2 } = await verifyIdToken(idp, token2.body.id_token, flow2.nonce);
      assert.equal(p2.email, 'noclaim@example.test');
      assert.equal('email_verified' in p2, false);
      // The default accounts are replaced.
      const browser = new Browser();
      const screen = await follow(browser, authorizeUrl(idp.issuer, idp.meta).url);
      const res = await browser.request(new URL(parseForm(screen.text).action, idp.issuer).href, {
        method: 'POST', form: { prompt: 'login', login: 'sso@globex.example', password: 'x' },
      });
      assert.match(res.text, /id="error"/);
    } finally {
      const t0 = Date.now();
      const { code } = await idp.stop();
      assert.equal(code, 0);
      assert.ok(Date.now() - t0 < 3000);
    }

    // --issuer is what the ready file, the discovery document and the tokens say.
    const port = await freePort();
    const local = await start('provider.mjs', ['--issuer', `http://localhost:${port}`], { port });
    try {
      assert.equal(local.issuer, `http://localhost:${port}`);
      assert.equal(local.meta.issuer, `http://localhost:${port}`);
      // The endpoints follow the host the discovery document was asked for.
      assert.equal(local.meta.token_endpoint, `http://127.0.0.1:${port}/token`);
    } finally {
      await local.stop();
    }
  });
});

describe('provider.mjs with an enterprise app: ID token → ID-JAG (RFC 8693)', () => {
  const APP = 'enterprise-app';
  const APP_SECRET = 'enterprise app secret';
  const AT_AS = 'acme-agent';
  const AUDIENCE = 'http://127.0.0.1:9';
  const RESOURCE = 'http://127.0.0.1:9/mcp';
  const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
  const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
  let idp;
  before(async () => {
    idp = await start('provider.mjs', [
      '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI,
      '--app-client-id', APP, '--app-client-secret', APP_SECRET, '--app-redirect-uri', REDIRECT_URI,
      '--app-audience-client-id', AT_AS,
    ]);
  });
  after(async () => { await idp?.stop(); });

  const post = async (id, secret, form) => {
    const res = await fetch(idp.meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(id, secret) },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: await res.json() };
  };
  // The app's own sign-in of the person at the provider: its ID token.
  const appIdToken = async (login) => {
    const flow = await signIn(idp, { login, extra: { client_id: APP } });
    const token = await post(APP, APP_SECRET, {
      grant_type: 'authorization_code', code: flow.query.code, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier,
    });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    return token.body.id_token;
  };
  const exchangeFor = (subjectToken, overrides = {}, [id, secret] = [APP, APP_SECRET]) => {
    const form = {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ID_JAG_TYPE,
      subject_token: subjectToken,
      subject_token_type: ID_TOKEN_TYPE,
      audience: AUDIENCE,
      resource: RESOURCE,
      scope: 'campaigns:read inbox:read',
      ...overrides,
    };
    for (const [k, v] of Object.entries(form)) if (v === undefined) delete form[k];
    return post(id, secret, form);
  };

  test('the app exchanges its ID token for an ID-JAG signed with the provider key', async () => {
    assert.ok(idp.meta.grant_types_supported.includes(TOKEN_EXCHANGE));
    const idToken = await appIdToken('sso@globex.example');
    const res = await exchangeFor(idToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.issued_token_type, ID_JAG_TYPE);
    assert.equal(res.body.token_type, 'N_A');
    assert.equal(res.body.scope, 'campaigns:read inbox:read');
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token, createRemoteJWKSet(new URL(idp.meta.jwks_uri)), {
      issuer: idp.issuer, audience: AUDIENCE, algorithms: ['RS256'], typ: 'oauth-id-jag+jwt',
    });
    assert.equal(protectedHeader.typ, 'oauth-id-jag+jwt');
    assert.equal(payload.sub, 'globex-sso-0001');
    assert.equal(payload.client_id, AT_AS);
    assert.equal(payload.resource, RESOURCE);
    assert.equal(payload.scope, 'campaigns:read inbox:read');
    assert.equal(payload.email, 'sso@globex.example');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(payload.jti);
    const second = await exchangeFor(idToken);
    assert.notEqual(decodeJwt(second.body.access_token).jti, payload.jti, 'a fresh jti each time');
  });

  test('refused: Alta\'s own client, a token that is not the app\'s ID token, missing or wrong parameters', async () => {
    const idToken = await appIdToken('demo@alta.local');
    const rp = await exchangeFor(idToken, {}, [CLIENT_ID, CLIENT_SECRET]);
    // oidc-provider's answer to a grant type the client did not register.
    assert.equal(rp.status, 400);
    assert.match(rp.body.error_description, /grant type is not allowed for this client/);
    const wrongSecret = await exchangeFor(idToken, {}, [APP, 'wrong']);
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body.error, 'invalid_client');
    // An ID token the provider gave Alta (the other client) is not the app's.
    const flow = await signIn(idp, { login: 'demo@alta.local' });
    const rpToken = await exchange(idp, { code: flow.query.code, verifier: flow.verifier }, 'client_secret_basic');
    for (const subject of [rpToken.body.id_token, 'not.a.jwt', `${idToken.slice(0, -4)}AAAA`]) {
      const res = await exchangeFor(subject);
      assert.equal(res.status, 400, subject);
      assert.equal(res.body.error, 'invalid_grant', JSON.stringify(res.body));
    }
    for (const overrides of [
      { requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
      { subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' },
      { audience: undefined },
      { resource: undefined },
      { subject_token: undefined },
    ]) {
      const res = await exchangeFor(idToken, overrides);
      assert.equal(res.status, 400, JSON.stringify(overrides));
      assert.equal(res.body.error, 'invalid_request', JSON.stringify(res.body));
    }
  });
});

test('a bad option exits 2 with a message, before listening', async () => {
  for (const [script, args] of [
    ['provider.mjs', ['--auth-method', 'private_key_jwt']],
    ['provider.mjs', ['--alg', 'HS256']],
    ['fake.mjs', ['--mode', 'nope']],
    ['fake.mjs', ['--no-such-option']],
  ]) {
    const proc = spawn(process.execPath, [join(HERE, script), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((resolve) => { proc.on('exit', resolve); });
    assert.notEqual(code, 0, `${script} ${args}`);
    assert.ok(err.length > 0);
  }
});

// --- fake.mjs ------------------------------------------------------------------------------

describe('fake.mjs (broken on purpose)', () => {
  let fake;
  let postFake;
  let jwksText;
  before(async () => {
    [fake, postFake] = await Promise.all([
      start('fake.mjs', ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET]),
      start('fake.mjs', ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET,
        '--auth-method', 'client_secret_post', '--redirect-uri', REDIRECT_URI]),
    ]);
    jwksText = await (await fetch(fake.meta.jwks_uri)).text();
  });
  after(async () => {
    await Promise.all([fake?.stop(), postFake?.stop()]);
  });

  // GET /authorize?mode=… → the callback; then the token endpoint.
  async function run(mode, { extra = {}, idp = fake, method = 'client_secret_basic' } = {}) {
    const req = authorizeUrl(idp.issuer, idp.meta, { mode, ...extra });
    const res = await new Browser().request(req.url);
    assert.equal(res.status, 302);
    const callback = new URL(res.location);
    assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
    const query = Object.fromEntries(callback.searchParams);
    assert.equal(query.state, req.state);
    if (query.error) return { req, query };
    const token = await exchange(idp, { code: query.code, verifier: req.verifier }, method);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const idToken = token.body.id_token;
    return {
      req, query, idToken, header: decodeProtectedHeader(idToken), payload: decodeJwt(idToken),
    };
  }

  const jwks = () => createRemoteJWKSet(new URL(fake.meta.jwks_uri));
  const verify = (idToken, options = {}) => jwtVerify(idToken, jwks(), {
    issuer: fake.issuer, audience: CLIENT_ID, algorithms: ASYMMETRIC, clockTolerance: 60, ...options,
  });
  // The signature alone, no claim checks.
  const signatureOk = (idToken) => compactVerify(idToken, jwks(), { algorithms: ASYMMETRIC });

  test('discovery, JWKS with one RSA key kid k1', async () => {
    assert.equal(fake.meta.issuer, fake.issuer);
    assert.equal(fake.meta.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(fake.meta.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(fake.meta.token_endpoint_auth_methods_supported, ['client_secret_basic']);
    assert.deepEqual(postFake.meta.token_endpoint_auth_methods_supported, ['client_secret_post']);
    assert.deepEqual(fake.meta.grant_types_supported, ['authorization_code', TOKEN_EXCHANGE]);
    const set = JSON.parse(jwksText);
    assert.equal(set.keys.length, 1);
    assert.equal(set.keys[0].kid, 'k1');
    assert.equal(set.keys[0].kty, 'RSA');
    assert.equal(set.keys[0].d, undefined);
  });

  test('ok: valid, nonce echoed, iss on the callback, code carries the mode', async () => {
    const r = await run('ok');
    assert.equal(r.query.iss, fake.issuer);
    assert.match(r.query.code, /^ok\./);
    const { payload } = await verify(r.idToken);
    assert.equal(payload.nonce, r.req.nonce);
    assert.equal(payload.email, 'sso@globex.example');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.sub, 'globex-sso-0001');
    assert.equal(r.header.kid, 'k1');
  });

  test('login_hint sets the email (and the sub with it)', async () => {
    const r = await run('ok', { extra: { login_hint: 'demo@alta.local' } });
    const { payload } = await verify(r.idToken);
    assert.equal(payload.email, 'demo@alta.local');
    assert.equal(payload.sub, 'alta-demo-0004');
    const other = await run('unverified_email', { extra: { login_hint: 'new@globex.example' } });
    assert.equal(other.payload.email, 'new@globex.example');
    assert.match(other.payload.sub, /^fake-[0-9a-f]{16}$/);
  });

  test('wrong_aud', async () => {
    const r = await run('wrong_aud');
    await signatureOk(r.idToken);
    assert.notEqual(r.payload.aud, CLIENT_ID);
    await assert.rejects(verify(r.idToken), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
  });

  test('wrong_iss and iss_trailing_slash', async () => {
    for (const mode of ['wrong_iss', 'iss_trailing_slash']) {
      const r = await run(mode);
      await signatureOk(r.idToken);
      assert.equal(r.query.iss, fake.issuer, 'the callback iss is right');
      assert.notEqual(r.payload.iss, fake.issuer);
      await assert.rejects(verify(r.idToken), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    }
  });

  test('wrong_nonce and no_nonce', async () => {
    const r = await run('wrong_nonce');
    const { payload } = await verify(r.idToken);
    assert.ok(payload.nonce && payload.nonce !== r.req.nonce);
    const n = await run('no_nonce');
    const { payload: p2 } = await verify(n.idToken);
    assert.equal('nonce' in p2, false);
  });

  test('expired (beyond a 60 s leeway) and iat_future', async () => {
    const r = await run('expired');
    await signatureOk(r.idToken);
    assert.ok(r.payload.exp < Date.now() / 1000 - 60);
    await assert.rejects(verify(r.idToken), { code: 'ERR_JWT_EXPIRED' });
    const f = await run('iat_future');
    await signatureOk(f.idToken);
    assert.ok(f.payload.iat > Date.now() / 1000 + 60);
    // jose checks iat only with maxTokenAge; an RP checks it by hand.
    const { payload } = await verify(f.idToken);
    assert.ok(payload.iat - 60 > Date.now() / 1000);
  });

  test('unknown_kid', async () => {
    const r = await run('unknown_kid');
    assert.equal(r.header.kid, 'k2');
    assert.equal(r.header.alg, 'RS256');
    await assert.rejects(verify(r.idToken), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  test('alg_none', async () => {
    const r = await run('alg_none');
    assert.equal(r.header.alg, 'none');
    assert.equal(r.idToken.split('.')[2], '');
    assert.equal(r.payload.nonce, r.req.nonce, 'claims otherwise right');
    await assert.rejects(verify(r.idToken));
  });

  test('hs256_jwks_secret: HMAC keyed with the JWKS document text', async () => {
    const r = await run('hs256_jwks_secret');
    assert.equal(r.header.alg, 'HS256');
    assert.equal(r.header.kid, 'k1');
    // It does verify with the JWKS text as an HMAC secret, so an RP that lets the token
    // pick the algorithm would take it.
    const { payload } = await jwtVerify(r.idToken, new TextEncoder().encode(jwksText), {
      issuer: fake.issuer, audience: CLIENT_ID, algorithms: ['HS256'],
    });
    assert.equal(payload.nonce, r.req.nonce);
    await assert.rejects(verify(r.idToken), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    await assert.rejects(jwtVerify(r.idToken, createLocalJWKSet(JSON.parse(jwksText))));
  });

  test('no_email_verified and unverified_email', async () => {
    const r = await run('no_email_verified');
    const { payload } = await verify(r.idToken);
    assert.equal('email_verified' in payload, false);
    assert.equal(payload.email, 'sso@globex.example');
    const u = await run('unverified_email');
    const { payload: p2 } = await verify(u.idToken);
    assert.equal(p2.email_verified, false);
  });

  test('wrong_callback_iss: the callback iss differs, the ID token is fine', async () => {
    const r = await run('wrong_callback_iss');
    assert.ok(r.query.iss && r.query.iss !== fake.issuer);
    await verify(r.idToken);
  });

  test('wrong_azp', async () => {
    const r = await run('wrong_azp');
    const { payload } = await verify(r.idToken);
    assert.ok(payload.aud.includes(CLIENT_ID));
    assert.notEqual(payload.azp, CLIENT_ID);
  });

  test('bad_signature', async () => {
    const r = await run('bad_signature');
    assert.equal(r.header.kid, 'k1');
    await assert.rejects(verify(r.idToken), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('error: access_denied with state and iss, no code', async () => {
    const r = await run('error');
    assert.equal(r.query.error, 'access_denied');
    assert.ok(r.query.error_description);
    assert.equal(r.query.iss, fake.issuer);
    assert.equal(r.query.code, undefined);
  });

  test('slow: the token endpoint never answers', async () => {
    const req = authorizeUrl(fake.issuer, fake.meta, { mode: 'slow' });
    const res = await new Browser().request(req.url);
    const code = new URL(res.location).searchParams.get('code');
    assert.match(code, /^slow\./);
    const t0 = Date.now();
    await assert.rejects(fetch(fake.meta.token_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(CLIENT_ID, CLIENT_SECRET), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: req.verifier,
      }),
      signal: AbortSignal.timeout(1500),
    }), { name: 'TimeoutError' });
    assert.ok(Date.now() - t0 >= 1400);
  });

  test('the token endpoint checks client auth, PKCE, redirect_uri, single use', async () => {
    const once = async (extraCheck) => {
      const req = authorizeUrl(fake.issuer, fake.meta, { mode: 'ok' });
      const res = await new Browser().request(req.url);
      const code = new URL(res.location).searchParams.get('code');
      return extraCheck({ code, verifier: req.verifier });
    };
    await once(async (c) => {
      const r = await exchange(fake, { ...c, verifier: pkce().verifier }, 'client_secret_basic');
      assert.equal(r.body.error, 'invalid_grant');
    });
    await once(async (c) => {
      const r = await exchange(fake, c, 'client_secret_basic', { redirect_uri: 'http://127.0.0.1:9/other' });
      assert.equal(r.body.error, 'invalid_grant');
    });
    await once(async (c) => {
      const r = await exchange(fake, c, 'client_secret_post');
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'invalid_client');
      const ok = await exchange(fake, c, 'client_secret_basic');
      assert.equal(ok.status, 200);
      const again = await exchange(fake, c, 'client_secret_basic');
      assert.equal(again.body.error, 'invalid_grant');
    });
    // The client_secret_post fake.
    const r = await run('ok', { idp: postFake, method: 'client_secret_post' });
    await jwtVerify(r.idToken, createRemoteJWKSet(new URL(postFake.meta.jwks_uri)), {
      issuer: postFake.issuer, audience: CLIENT_ID, algorithms: ASYMMETRIC,
    });
    const req = authorizeUrl(postFake.issuer, postFake.meta, { mode: 'ok' });
    const res = await new Browser().request(req.url);
    const basicOnPost = await exchange(postFake, {
      code: new URL(res.location).searchParams.get('code'), verifier: req.verifier,
    }, 'client_secret_basic');
    assert.equal(basicOnPost.status, 401);
    // --redirect-uri restricts the redirect URIs.
    const evil = await new Browser().request(authorizeUrl(postFake.issuer, postFake.meta, { redirect_uri: 'http://127.0.0.1:9/evil' }).url);
    assert.equal(evil.status, 400);
  });

  test('PKCE S256 is required at the authorization endpoint', async () => {
    const req = authorizeUrl(fake.issuer, fake.meta, { code_challenge_method: 'plain' });
    const res = await new Browser().request(req.url);
    const q = new URL(res.location).searchParams;
    assert.equal(q.get('error'), 'invalid_request');
    assert.equal(q.get('iss'), fake.issuer);
  });

  test('POST /control sets the default mode and email; a bare mode works as a code', async () => {
    const set = await fetch(`${fake.issuer}/control`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'wrong_aud', email: 'nobody@globex.example' }),
    });
    assert.deepEqual(await set.json(), { mode: 'wrong_aud', email: 'nobody@globex.example' });
    try {
      const r = await run(undefined);
      assert.match(r.query.code, /^wrong_aud\./);
      assert.equal(r.payload.email, 'nobody@globex.example');
      assert.equal(r.payload.aud, 'some-other-client');
    } finally {
      await fetch(`${fake.issuer}/control`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'mode=ok&email=sso%40globex.example',
      });
    }
    const bare = await exchange(fake, { code: 'expired', verifier: undefined }, 'client_secret_basic');
    assert.equal(bare.status, 200);
    assert.ok(decodeJwt(bare.body.id_token).exp < Date.now() / 1000);
    const unknown = await exchange(fake, { code: 'nope', verifier: undefined }, 'client_secret_basic');
    assert.equal(unknown.body.error, 'invalid_grant');
  });

  // --- ID-JAGs: the enterprise IdP of enterprise-managed authorization ------------------

  const AS_ISSUER = 'https://alta.example.test';
  const MCP_RESOURCE = 'https://alta.example.test/mcp';
  const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
  const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
  const ID_JAG_TYP = 'oauth-id-jag+jwt';

  // POST /token with grant_type token-exchange; `fields` override the defaults (undefined
  // drops one). `auth` is the client authentication: a method, or none.
  async function tokenExchange(fields = {}, {
    idp = fake, auth = 'client_secret_basic', id = CLIENT_ID, secret = CLIENT_SECRET,
  } = {}) {
    const form = {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ID_JAG_TYPE,
      subject_token_type: ID_TOKEN_TYPE,
      audience: AS_ISSUER,
      resource: MCP_RESOURCE,
      ...fields,
    };
    for (const [k, v] of Object.entries(form)) if (v === undefined) delete form[k];
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    if (auth === 'client_secret_basic') headers.authorization = basicAuth(id, secret);
    else if (auth === 'client_secret_post') Object.assign(form, { client_id: id, client_secret: secret });
    const res = await fetch(idp.meta.token_endpoint, { method: 'POST', headers, body: new URLSearchParams(form) });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  // POST /id-jag, as JSON or as a form.
  async function postIdJag(fields, { form = false, idp = fake } = {}) {
    const res = await fetch(`${idp.issuer}/id-jag`, {
      method: 'POST',
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams(fields).toString() : JSON.stringify(fields),
    });
    return { status: res.status, body: await res.json() };
  }

  // What an authorization server checks of an ID-JAG (60 s leeway, at most 300 s between iat
  // and exp): the names of the checks that fail.
  async function jagFailures(jag, {
    sub = 'globex-sso-0001', email = 'sso@globex.example', clientId = CLIENT_ID,
  } = {}) {
    const header = decodeProtectedHeader(jag);
    const p = decodeJwt(jag);
    const now = Date.now() / 1000;
    const failed = [];
    try {
      await compactVerify(jag, jwks(), { algorithms: ['RS256'] });
    } catch {
      failed.push('signature');
    }
    if (header.typ !== ID_JAG_TYP) failed.push('typ');
    if (p.iss !== fake.issuer) failed.push('iss');
    if (p.sub !== sub) failed.push('sub');
    if (p.aud !== AS_ISSUER) failed.push('aud');
    if (p.resource !== MCP_RESOURCE) failed.push('resource');
    if (p.client_id !== clientId) failed.push('client_id');
    if (!(p.exp > now - 60)) failed.push('exp');
    if (!(p.iat <= now + 60)) failed.push('iat');
    if (!(p.exp - p.iat <= 300)) failed.push('lifetime');
    if (typeof p.jti !== 'string' || !p.jti) failed.push('jti');
    if (p.email !== email) failed.push('email');
    if (p.email_verified !== true) failed.push('email_verified');
    return failed;
  }

  // mode -> the checks it fails, and nothing else.
  const JAG_MODE_BREAKS = {
    ok: [],
    wrong_typ: ['typ'],
    no_typ: ['typ'],
    wrong_iss: ['iss'],
    wrong_aud: ['aud'],
    no_resource: ['resource'],
    wrong_resource: ['resource'],
    wrong_client_id: ['client_id'],
    expired: ['exp'],
    too_long: ['lifetime'],
    iat_future: ['iat'],
    unknown_kid: ['signature'],
    alg_none: ['signature'],
    hs256_jwks_secret: ['signature'],
    bad_signature: ['signature'],
    no_jti: ['jti'],
    unverified_email: ['email_verified'],
  };

  test('token exchange: an ID token of this fake gives a well-formed ID-JAG', async () => {
    const r = await run('ok', { extra: { login_hint: 'demo@alta.local' } });
    const t = await tokenExchange({ subject_token: r.idToken, scope: 'campaigns:read campaigns:write' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.match(t.headers.get('content-type'), /^application\/json/);
    assert.equal(t.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(t.body).sort(), ['access_token', 'expires_in', 'issued_token_type', 'scope', 'token_type']);
    assert.equal(t.body.issued_token_type, ID_JAG_TYPE);
    assert.equal(t.body.token_type, 'N_A');
    assert.equal(t.body.expires_in, 300);
    assert.equal(t.body.scope, 'campaigns:read campaigns:write');

    const { payload, protectedHeader } = await jwtVerify(t.body.access_token, jwks(), {
      issuer: fake.issuer, audience: AS_ISSUER, typ: ID_JAG_TYP, algorithms: ['RS256'],
    });
    assert.deepEqual(protectedHeader, { alg: 'RS256', kid: 'k1', typ: ID_JAG_TYP });
    assert.deepEqual(Object.keys(payload).sort(), [
      'aud', 'client_id', 'email', 'email_verified', 'exp', 'iat', 'iss', 'jti', 'resource', 'scope', 'sub']);
    assert.equal(payload.sub, 'alta-demo-0004');
    assert.equal(payload.email, 'demo@alta.local');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.client_id, CLIENT_ID, 'the authenticated client by default');
    assert.equal(payload.resource, MCP_RESOURCE);
    assert.equal(payload.scope, 'campaigns:read campaigns:write');
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 5);
    assert.match(payload.jti, /^[A-Za-z0-9_-]{16,}$/);
    assert.deepEqual(await jagFailures(t.body.access_token, { sub: 'alta-demo-0004', email: 'demo@alta.local' }), []);

    // The same ID token again: another jti. No scope asked: none in the answer or the ID-JAG.
    // jag_client_id names the client at the authorization server.
    const again = await tokenExchange({ subject_token: r.idToken, jag_client_id: 'mcp-client-at-alta' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal('scope' in again.body, false);
    const p2 = decodeJwt(again.body.access_token);
    assert.notEqual(p2.jti, payload.jti);
    assert.equal('scope' in p2, false);
    assert.equal(p2.client_id, 'mcp-client-at-alta');
    assert.equal(p2.sub, 'alta-demo-0004');
  });

  test('token exchange: subject_token email:<address>, and client_secret_post', async () => {
    const t = await tokenExchange({ subject_token: 'email:new@globex.example', scope: 's1' }, { idp: postFake, auth: 'client_secret_post' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const { payload } = await jwtVerify(t.body.access_token, createRemoteJWKSet(new URL(postFake.meta.jwks_uri)), {
      issuer: postFake.issuer, audience: AS_ISSUER, typ: ID_JAG_TYP, algorithms: ['RS256'],
    });
    assert.equal(payload.email, 'new@globex.example');
    assert.match(payload.sub, /^fake-[0-9a-f]{16}$/);
    assert.equal(payload.client_id, CLIENT_ID);
    const known = await tokenExchange({ subject_token: 'email:sso@globex.example' });
    assert.equal(decodeJwt(known.body.access_token).sub, 'globex-sso-0001');
    // An ID token of the client_secret_post fake, exchanged there.
    const r = await run('ok', { idp: postFake, method: 'client_secret_post' });
    const t2 = await tokenExchange({ subject_token: r.idToken }, { idp: postFake, auth: 'client_secret_post' });
    assert.equal(t2.status, 200, JSON.stringify(t2.body));
    assert.equal(decodeJwt(t2.body.access_token).iss, postFake.issuer);
  });

  test('token exchange: bad client authentication is 401 invalid_client', async () => {
    for (const [options, what] of [
      [{ secret: 'wrong' }, 'wrong secret'],
      [{ id: 'someone-else' }, 'unknown client'],
      [{ auth: 'client_secret_post' }, 'post on a basic fake'],
      [{ auth: 'none' }, 'no authentication'],
      [{ idp: postFake, auth: 'client_secret_basic' }, 'basic on a post fake'],
      [{ idp: postFake, auth: 'client_secret_post', secret: 'wrong' }, 'wrong secret, post'],
    ]) {
      const t = await tokenExchange({ subject_token: 'email:sso@globex.example' }, options);
      assert.equal(t.status, 401, what);
      assert.equal(t.body.error, 'invalid_client', what);
    }
  });

  test('token exchange: malformed requests are invalid_request, bad subject tokens invalid_grant', async () => {
    const expect = async (fields, status, error, what) => {
      const t = await tokenExchange({ subject_token: 'email:sso@globex.example', ...fields });
      assert.equal(t.status, status, `${what}: ${JSON.stringify(t.body)}`);
      assert.equal(t.body.error, error, what);
      assert.equal(typeof t.body.error_description, 'string', what);
      assert.equal(t.headers.get('cache-control'), 'no-store');
    };
    await expect({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, 400, 'invalid_request', 'wrong requested_token_type');
    await expect({ requested_token_type: undefined }, 400, 'invalid_request', 'no requested_token_type');
    await expect({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }, 400, 'invalid_request', 'saml2 subject');
    await expect({ subject_token: undefined }, 400, 'invalid_request', 'no subject_token');
    await expect({ audience: undefined }, 400, 'invalid_request', 'no audience');
    await expect({ resource: undefined }, 400, 'invalid_request', 'no resource');
    await expect({ actor_token: 'x', actor_token_type: ID_TOKEN_TYPE }, 400, 'invalid_request', 'actor token');
    await expect({ jag_mode: 'nope' }, 400, 'invalid_request', 'unknown jag_mode');
    await expect({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }, 400, 'unsupported_grant_type', 'jwt-bearer');
    // Two audiences.
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG_TYPE, subject_token_type: ID_TOKEN_TYPE,
      subject_token: 'email:sso@globex.example', audience: AS_ISSUER, resource: MCP_RESOURCE,
    });
    body.append('audience', 'https://other.example');
    const two = await fetch(fake.meta.token_endpoint, {
      method: 'POST', headers: { authorization: basicAuth(CLIENT_ID, CLIENT_SECRET), 'content-type': 'application/x-www-form-urlencoded' }, body,
    });
    assert.equal(two.status, 400);
    assert.equal((await two.json()).error, 'invalid_request');

    // Subject tokens that are not a good ID token of this fake for this client.
    for (const mode of ['wrong_aud', 'wrong_iss', 'iss_trailing_slash', 'expired', 'iat_future', 'unknown_kid', 'alg_none', 'hs256_jwks_secret', 'bad_signature']) {
      const r = await run(mode);
      await expect({ subject_token: r.idToken }, 400, 'invalid_grant', `an ID token of mode ${mode}`);
    }
    const other = await run('ok', { idp: postFake, method: 'client_secret_post' });
    await expect({ subject_token: other.idToken }, 400, 'invalid_grant', 'an ID token of another provider');
    const jag = (await postIdJag({ audience: CLIENT_ID, resource: MCP_RESOURCE })).body.id_jag;
    await expect({ subject_token: jag }, 400, 'invalid_grant', 'an ID-JAG as the subject');
    await expect({ subject_token: 'not-a-jwt' }, 400, 'invalid_grant', 'garbage');
    await expect({ subject_token: 'email:' }, 400, 'invalid_grant', 'email: with no address');
    // Still fine with modes that only change claims the fake does not check.
    for (const mode of ['no_email_verified', 'unverified_email', 'wrong_nonce', 'no_nonce', 'wrong_azp', 'wrong_callback_iss']) {
      const r = await run(mode);
      const t = await tokenExchange({ subject_token: r.idToken });
      assert.equal(t.status, 200, `${mode}: ${JSON.stringify(t.body)}`);
    }
  });

  test('POST /id-jag: JSON or form, no client authentication; a forced jti is reused', async () => {
    const fields = {
      email: 'sso@globex.example', audience: AS_ISSUER, resource: MCP_RESOURCE, client_id: 'mcp-client-at-alta', scope: 'a b', jti: 'jag-fixed-1',
    };
    const one = await postIdJag(fields);
    const two = await postIdJag(fields, { form: true });
    for (const r of [one, two]) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body), ['id_jag']);
      const { payload } = await jwtVerify(r.body.id_jag, jwks(), {
        issuer: fake.issuer, audience: AS_ISSUER, typ: ID_JAG_TYP, algorithms: ['RS256'],
      });
      assert.equal(payload.jti, 'jag-fixed-1');
      assert.equal(payload.client_id, 'mcp-client-at-alta');
      assert.equal(payload.scope, 'a b');
      assert.equal(payload.sub, 'globex-sso-0001');
    }

    // Without jti: a new one each time. Without client_id: --client-id. Without email or
    // sub: the /control email.
    const a = decodeJwt((await postIdJag({ audience: AS_ISSUER, resource: MCP_RESOURCE })).body.id_jag);
    const b = decodeJwt((await postIdJag({ audience: AS_ISSUER, resource: MCP_RESOURCE }, { form: true })).body.id_jag);
    assert.notEqual(a.jti, b.jti);
    assert.equal(a.client_id, CLIENT_ID);
    assert.equal(a.email, 'sso@globex.example');
    assert.equal(a.sub, 'globex-sso-0001');
    assert.equal('scope' in a, false);

    // sub alone: the account's email, if the sub is one of the accounts; else no email.
    const demo = decodeJwt((await postIdJag({ sub: 'alta-demo-0004', audience: AS_ISSUER, resource: MCP_RESOURCE })).body.id_jag);
    assert.equal(demo.email, 'demo@alta.local');
    const anon = decodeJwt((await postIdJag({ sub: 'U019488227', audience: AS_ISSUER, resource: MCP_RESOURCE })).body.id_jag);
    assert.equal(anon.sub, 'U019488227');
    assert.equal('email' in anon, false);
    assert.equal('email_verified' in anon, false);

    // Refusals: 400 invalid_request.
    for (const [body, what] of [
      [{ resource: MCP_RESOURCE }, 'no audience'],
      [{ audience: AS_ISSUER }, 'no resource'],
      [{ audience: AS_ISSUER, resource: MCP_RESOURCE, mode: 'nope' }, 'unknown mode'],
      [{ audience: AS_ISSUER, resource: MCP_RESOURCE, mode: 'constructor' }, 'not a mode'],
      [{ audience: [AS_ISSUER], resource: MCP_RESOURCE }, 'audience not a string'],
    ]) {
      const r = await postIdJag(body);
      assert.equal(r.status, 400, what);
      assert.equal(r.body.error, 'invalid_request', what);
    }
    const notJson = await fetch(`${fake.issuer}/id-jag`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.status, 400);
    assert.equal((await fetch(`${fake.issuer}/id-jag`)).status, 404);
  });

  test('each ID-JAG mode breaks exactly what it says, from /id-jag and from the token exchange', async () => {
    const jwksSecret = new TextEncoder().encode(jwksText);
    let i = 0;
    for (const [mode, breaks] of Object.entries(JAG_MODE_BREAKS)) {
      i += 1;
      const direct = await postIdJag({
        email: 'sso@globex.example', audience: AS_ISSUER, resource: MCP_RESOURCE, client_id: CLIENT_ID, mode,
      }, { form: i % 2 === 0 });
      assert.equal(direct.status, 200, `${mode}: ${JSON.stringify(direct.body)}`);
      const exchanged = await tokenExchange({ subject_token: 'email:sso@globex.example', jag_mode: mode });
      assert.equal(exchanged.status, 200, `${mode}: ${JSON.stringify(exchanged.body)}`);
      assert.equal(exchanged.body.expires_in, 300);
      for (const jag of [direct.body.id_jag, exchanged.body.access_token]) {
        assert.deepEqual(await jagFailures(jag), breaks, mode);
        const header = decodeProtectedHeader(jag);
        const p = decodeJwt(jag);
        switch (mode) {
          case 'ok':
            await jwtVerify(jag, jwks(), {
              issuer: fake.issuer, audience: AS_ISSUER, typ: ID_JAG_TYP, algorithms: ['RS256'], maxTokenAge: 300,
            });
            break;
          case 'wrong_typ':
            assert.equal(header.typ, 'JWT');
            break;
          case 'no_typ':
            assert.equal('typ' in header, false);
            break;
          case 'no_resource':
            assert.equal('resource' in p, false);
            break;
          case 'expired':
            assert.ok(p.exp < Date.now() / 1000 - 60);
            await assert.rejects(jwtVerify(jag, jwks(), { algorithms: ['RS256'], clockTolerance: 60 }), { code: 'ERR_JWT_EXPIRED' });
            break;
          case 'too_long':
            assert.equal(p.exp - p.iat, 3600);
            break;
          case 'iat_future':
            assert.ok(p.iat > Date.now() / 1000 + 60);
            break;
          case 'unknown_kid':
            assert.equal(header.kid, 'k2');
            assert.equal(header.alg, 'RS256');
            await assert.rejects(compactVerify(jag, jwks(), { algorithms: ['RS256'] }), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
            break;
          case 'alg_none':
            assert.deepEqual(header, { alg: 'none', typ: ID_JAG_TYP });
            assert.equal(jag.split('.')[2], '');
            break;
          case 'hs256_jwks_secret':
            assert.deepEqual(header, { alg: 'HS256', kid: 'k1', typ: ID_JAG_TYP });
            // It verifies with the JWKS text as an HMAC secret: an AS that lets the token pick
            // the algorithm would take it.
            await jwtVerify(jag, jwksSecret, {
              issuer: fake.issuer, audience: AS_ISSUER, typ: ID_JAG_TYP, algorithms: ['HS256'],
            });
            await assert.rejects(jwtVerify(jag, jwks(), { algorithms: ['RS256'] }), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
            break;
          case 'bad_signature':
            assert.equal(header.kid, 'k1');
            await assert.rejects(compactVerify(jag, jwks(), { algorithms: ['RS256'] }), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
            break;
          case 'no_jti':
            assert.equal('jti' in p, false);
            break;
          case 'unverified_email':
            assert.equal(p.email_verified, false);
            break;
          default:
            break;
        }
      }
    }
  });

  test('SIGTERM exits 0 even with a slow token request open', async () => {
    const idp = await start('fake.mjs', ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--mode', 'slow']);
    const req = authorizeUrl(idp.issuer, idp.meta);
    const res = await new Browser().request(req.url);
    const pending = fetch(idp.meta.token_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(CLIENT_ID, CLIENT_SECRET), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: new URL(res.location).searchParams.get('code'), redirect_uri: REDIRECT_URI, code_verifier: req.verifier,
      }),
    }).catch((err) => err);
    await new Promise((r) => { setTimeout(r, 200); });
    const t0 = Date.now();
    const { code } = await idp.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 3000);
    assert.ok((await pending) instanceof Error, 'the open request was dropped');
  });
});
