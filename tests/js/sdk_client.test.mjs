// The official TypeScript MCP SDK client (@modelcontextprotocol/sdk) against the local
// server, from nothing: 401 → discovery → dynamic registration → Alta's sign-in form
// (posted here as a browser would) → code exchange with PKCE → the Alta tools.
// scripts/test starts the servers and names them in ALTA_TEST_SERVERS.
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

const servers = (process.env.ALTA_TEST_SERVERS ?? "")
  .split(",")
  .filter((pair) => pair.includes("="))
  .map((pair) => pair.split("=", 2));
if (servers.length === 0) {
  throw new Error("ALTA_TEST_SERVERS is not set: run these tests through scripts/test");
}

/** An in-memory OAuthClientProvider whose "browser" is recorded, not opened. */
class TestProvider {
  constructor() {
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authorizationUrl = undefined;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: "TypeScript SDK flow test",
      redirect_uris: [REDIRECT_URI],
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

/** Connects the SDK client, walking the OAuth flow the first time. */
async function connect(base, email) {
  const provider = new TestProvider();
  const url = new URL(`${base}/mcp`);
  const client = new Client({ name: "alta-ts-test", version: "1.0.0" });
  await assert.rejects(client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
  assert.ok(provider.authorizationUrl, "the SDK asked for a sign-in");
  const asked = provider.authorizationUrl.searchParams;
  assert.equal(asked.get("code_challenge_method"), "S256");
  assert.equal(asked.get("resource"), `${base}/mcp`);

  const redirect = await signIn(provider.authorizationUrl, email);
  assert.equal(redirect.get("state"), "ts-state-1");
  assert.equal(redirect.get("iss"), base);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await transport.finishAuth(redirect.get("code"));
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
}
