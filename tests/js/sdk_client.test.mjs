// The official TypeScript MCP SDK client (@modelcontextprotocol/sdk) against the local
// server, from nothing: 401 → discovery → dynamic registration → Alta's sign-in form
// (posted here as a browser would) → code exchange with PKCE → the Alta tools. Also
// through an identity provider, as Cursor (its callback, the pre-configured `cursor`
// client): a Globex email sent to Globex SSO (a test OpenID provider,
// tests/idp/provider.mjs), its login and consent screens, then Alta's account page.
// scripts/test starts the servers and names them in ALTA_TEST_SERVERS, and the test
// providers in ALTA_TEST_IDPS (provider id → issuer).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const PASSWORD = "alta-demo";
// The tool contract, which the Rust catalog test keeps equal to the server's list.
const CONTRACT_TOOLS = JSON.parse(
  readFileSync(new URL("../fixtures/tools.json", import.meta.url), "utf8"),
).tools.map((t) => t.name);
const REDIRECT_URI = "http://127.0.0.1:45999/callback";
// Cursor's callback: registering it gets the pre-configured `cursor` client (which no
// registration limit counts); the redirect is read, never followed.
const CURSOR_REDIRECT = "cursor://anysphere.cursor-mcp/oauth/callback";

const servers = (process.env.ALTA_TEST_SERVERS ?? "")
  .split(",")
  .filter((pair) => pair.includes("="))
  .map((pair) => pair.split("=", 2));
if (servers.length === 0) {
  throw new Error("ALTA_TEST_SERVERS is not set: run these tests through scripts/test");
}
const idps = JSON.parse(process.env.ALTA_TEST_IDPS || "null");
if (!idps?.["globex-sso"]) {
  throw new Error("ALTA_TEST_IDPS is not set: run these tests through scripts/test, which starts the test OpenID providers");
}

/** An in-memory OAuthClientProvider whose "browser" is recorded, not opened. */
class TestProvider {
  constructor(redirect = REDIRECT_URI) {
    this.redirect = redirect;
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authorizationUrl = undefined;
  }
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata() {
    return {
      client_name: "TypeScript SDK flow test",
      redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return "ts-state-1";
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** Plays the person at Alta's sign-in page and returns the redirect's parameters. */
async function signIn(authorizationUrl, email, decision = "allow") {
  const page = await fetch(authorizationUrl, { redirect: "manual" });
  assert.equal(page.status, 200);
  const cookie = page.headers.get("set-cookie").split(";")[0];
  const html = await page.text();
  const pending = html.match(/name="request" value="([^"]+)"/)[1].replaceAll("&amp;", "&");
  const form = new URLSearchParams({ request: pending, email, password: PASSWORD, decision });
  const action = new URL("/authorize", authorizationUrl);
  const post = (body) =>
    fetch(action, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body,
    });
  let answer = await post(form);
  if (answer.status === 200) {
    // A person with several accounts: the account page, the first one preselected.
    const page = await answer.text();
    const preselected = page.match(/name="account" value="([^"]+)" checked/);
    assert.ok(preselected, "the account page preselects an account");
    const signedIn = page.match(/name="request" value="([^"]+)"/)[1].replaceAll("&amp;", "&");
    answer = await post(new URLSearchParams({ request: signedIn, account: preselected[1], decision }));
  }
  assert.ok([302, 303].includes(answer.status), `sign-in redirects (got ${answer.status})`);
  const location = new URL(answer.headers.get("location"));
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
  return location.searchParams;
}

/** A small cookie jar, as a browser keeps one: every server here is on 127.0.0.1 (cookies
 * ignore the port; Alta's and the provider's names differ), so only paths are honoured. */
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }
  store(response, url) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      // RFC 6265 §5.1.4: without a Path, the request path's directory.
      const requestPath = new URL(url).pathname;
      let path = requestPath.lastIndexOf("/") > 0 ? requestPath.slice(0, requestPath.lastIndexOf("/")) : "/";
      let expired = false;
      for (const attribute of attributes) {
        const [key, raw = ""] = attribute.split("=");
        const k = key.trim().toLowerCase();
        const v = raw.trim();
        if (k === "path" && v.startsWith("/")) path = v;
        if (k === "max-age" && Number(v) <= 0) expired = true;
        if (k === "expires" && Date.parse(v) < Date.now()) expired = true;
      }
      const key = `${name}\t${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }
  header(url) {
    const path = new URL(url).pathname;
    return [...this.cookies.values()]
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }
}

/** One browser: a cookie jar across Alta and the provider, redirects followed by hand.
 * Each answer: { status, url, location (absolute, for a redirect), html }. */
class Browser {
  constructor() {
    this.jar = new CookieJar();
  }
  async request(url, init = {}) {
    const headers = { ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    this.jar.store(response, url);
    const location = response.headers.get("location");
    return {
      status: response.status,
      url: String(url),
      location: location && new URL(location, url).href,
      html: await response.text(),
    };
  }
  get(url) {
    return this.request(url);
  }
  post(url, fields) {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
  }
  /** Follows redirects until a page, or a redirect to a URL starting with `stop`. */
  async follow(answer, stop) {
    for (let hops = 0; hops < 20; hops += 1) {
      if (!answer.location || (stop && answer.location.startsWith(stop))) return answer;
      answer = await this.get(answer.location);
    }
    throw new Error(`more than 20 redirects, the last to ${answer.url}`);
  }
}

const unescapeHtml = (value) =>
  value.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");

/** The attributes of an HTML tag, as an object (a bare attribute is ""). */
function attributesOf(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) out[m[1].toLowerCase()] = unescapeHtml(m[2] ?? "");
  return out;
}

/** The page's form holding `marker` (an id, or a field's name): its absolute action, its
 * hidden fields and its radio buttons. */
function formOf(answer, marker) {
  for (const [form, open] of [...answer.html.matchAll(/(<form\b[^>]*>)[\s\S]*?<\/form>/g)]) {
    const attrs = attributesOf(open);
    const inputs = [...form.matchAll(/<input\b[^>]*>/g)].map((m) => attributesOf(m[0]));
    if (attrs.id !== marker && !inputs.some((i) => i.name === marker)) continue;
    const hidden = Object.fromEntries(inputs.filter((i) => i.type === "hidden").map((i) => [i.name, i.value ?? ""]));
    const radios = inputs.filter((i) => i.type === "radio");
    return { action: new URL(attrs.action ?? "", answer.url).href, hidden, radios };
  }
  throw new Error(`no form with ${marker} on ${answer.url} (${answer.status}): ${answer.html.slice(0, 600)}`);
}

/** Plays a person who signs in through Globex SSO: the email alone and Allow at Alta's
 * sign-in page, then (one cookie jar) the provider's login and consent screens, then
 * Alta's account page, where `account` is chosen. Returns the redirect's parameters. */
async function signInThroughGlobexSso(authorizationUrl, base, email, account, redirect) {
  const browser = new Browser();
  const callback = `${base}/authorize/callback`;
  const page = await browser.get(authorizationUrl);
  assert.equal(page.status, 200);
  const signIn = formOf(page, "request");
  const sent = await browser.post(signIn.action, { ...signIn.hidden, email, password: "", decision: "allow" });
  assert.equal(sent.status, 303, sent.html.slice(0, 600));
  const toProvider = new URL(sent.location);
  assert.ok(sent.location.startsWith(`${idps["globex-sso"]}/`), `sent to ${sent.location}`);
  assert.equal(toProvider.searchParams.get("login_hint"), email);
  assert.equal(toProvider.searchParams.get("redirect_uri"), callback);
  assert.equal(toProvider.searchParams.get("code_challenge_method"), "S256");

  const login = await browser.follow(sent);
  assert.equal(login.status, 200, login.html.slice(0, 600));
  const loginForm = formOf(login, "login-form");
  const consent = await browser.follow(await browser.post(loginForm.action, { ...loginForm.hidden, login: email, password: "x" }));
  assert.equal(consent.status, 200, consent.html.slice(0, 600));
  const consentForm = formOf(consent, "consent-form");
  const back = await browser.follow(await browser.post(consentForm.action, consentForm.hidden), callback);
  assert.ok(back.location?.startsWith(`${callback}?`), `the provider sent the person to ${back.location}`);

  const accounts = await browser.get(back.location);
  assert.equal(accounts.status, 200, accounts.html.slice(0, 600));
  const choice = formOf(accounts, "account");
  assert.deepEqual(choice.radios.map((r) => r.value).sort(), ["acct_acme", "acct_globex"]);
  assert.ok(choice.radios.every((r) => !("disabled" in r)), "both accounts can be chosen");
  const answer = await browser.post(choice.action, { ...choice.hidden, account, decision: "allow" });
  assert.equal(answer.status, 302, answer.html.slice(0, 600));
  assert.ok(answer.location.startsWith(`${redirect}?`), answer.location);
  return new URL(answer.location).searchParams;
}

/** An access token's claims, read without verifying it. */
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));

/** Connects the SDK client, walking the OAuth flow the first time: `signInWith` plays the
 * person (default: with a password at Alta's sign-in page); `redirect`, the client's. */
async function connect(base, email, { signInWith = (url) => signIn(url, email), redirect = REDIRECT_URI } = {}) {
  const provider = new TestProvider(redirect);
  const url = new URL(`${base}/mcp`);
  const client = new Client({ name: "alta-ts-test", version: "1.0.0" });
  await assert.rejects(client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
  assert.ok(provider.authorizationUrl, "the SDK asked for a sign-in");
  const asked = provider.authorizationUrl.searchParams;
  assert.equal(asked.get("code_challenge_method"), "S256");
  assert.equal(asked.get("resource"), `${base}/mcp`);

  const answer = await signInWith(provider.authorizationUrl);
  assert.equal(answer.get("state"), "ts-state-1");
  assert.equal(answer.get("iss"), base);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await transport.finishAuth(answer.get("code"));
  assert.ok(provider.tokens()?.access_token);
  assert.ok(provider.tokens()?.refresh_token);

  const connected = new Client({ name: "alta-ts-test", version: "1.0.0" });
  await connected.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client: connected, provider };
}

for (const [store, base] of servers) {
  test(`${store}: the TypeScript SDK connects from nothing and uses the tools`, async () => {
    const { client } = await connect(base, "demo@alta.local");
    assert.equal(client.getServerVersion().name, "alta-mcp");

    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      CONTRACT_TOOLS,
    );

    const account = await client.callTool({ name: "get_account", arguments: {} });
    assert.equal(account.isError, false);
    assert.equal(account.structuredContent.name, "Acme Corp");

    const campaigns = await client.callTool({ name: "list_campaigns", arguments: { limit: 2 } });
    assert.equal(campaigns.structuredContent.campaigns.length, 2);
    assert.ok(campaigns.structuredContent.next_cursor);

    const paused = await client.callTool({ name: "pause_campaign", arguments: { campaign_id: "camp_acme_q4_outreach" } });
    assert.equal(paused.isError, false);
    assert.equal(paused.structuredContent.status, "paused");
    const resumed = await client.callTool({ name: "resume_campaign", arguments: { campaign_id: "camp_acme_q4_outreach" } });
    assert.equal(resumed.structuredContent.status, "active");

    const emails = await client.callTool({ name: "list_emails", arguments: { query: "renewal" } });
    assert.equal(emails.isError, false);
    assert.ok(emails.structuredContent.emails.length >= 1);
    await client.close();
  });

  test(`${store}: a viewer sees pause_campaign denied`, async () => {
    const { client } = await connect(base, "viewer@alta.local");
    const denied = await client.callTool({ name: "pause_campaign", arguments: { campaign_id: "camp_acme_q4_outreach" } });
    assert.equal(denied.isError, true);
    assert.match(denied.content[0].text, /Campaign\.EditCampaign/);
    assert.match(denied.content[0].text, /Viewer/);
    await client.close();
  });

  test(`${store}: the TypeScript SDK, as Cursor, connects through Globex SSO to Globex`, async () => {
    const email = "sso@globex.example";
    const { client, provider } = await connect(base, email, {
      redirect: CURSOR_REDIRECT,
      signInWith: (url) => signInThroughGlobexSso(url, base, email, "acct_globex", CURSOR_REDIRECT),
    });
    assert.equal(provider.clientInformation().client_id, "cursor");
    const account = await client.callTool({ name: "get_account", arguments: {} });
    assert.equal(account.isError, false, JSON.stringify(account.content));
    assert.equal(account.structuredContent.id, "acct_globex");
    assert.equal(account.structuredContent.role, "Member");
    assert.equal(claimsOf(provider.tokens().access_token).idp, "globex-sso");
    await client.close();
  });
}
