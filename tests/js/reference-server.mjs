// The reference for the side-by-side benchmark (scripts/bench): the same `list_campaigns`
// tool served by the official TypeScript MCP SDK, stateless Streamable HTTP (a new server
// and transport per request, JSON responses), behind the SDK's `requireBearerAuth`
// verifying the Rust server's ES256 access tokens through its JWKS with `jose`.
// Not a test: node --test does not pick it up.
import express from "express";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { z } from "zod";

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";

const port = Number(process.env.PORT ?? 3100);
const issuer = process.env.ISSUER; // the Rust server's base URL
const audience = `${issuer}/mcp`;
const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));

const verifier = {
  async verifyAccessToken(token) {
    const { payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ["ES256"], typ: "at+jwt" });
    return { token, clientId: payload.client_id, scopes: String(payload.scope).split(" "), expiresAt: payload.exp };
  },
};

// The demo account's campaigns, as the Rust server seeds them.
const day = 86400;
const now = Math.floor(Date.now() / 1000);
const campaigns = [
  ["camp_acme_q4_outreach", "Q4 enterprise outreach", "active", "autopilot", "inbox_acme_sales", [1240, 610, 87]],
  ["camp_acme_renewals", "Renewal reminders", "paused", "copilot", "inbox_acme_sales", [320, 201, 44]],
  ["camp_acme_webinar", "Spring webinar invite", "draft", "autopilot", "inbox_acme_support", [0, 0, 0]],
  ["camp_acme_launch", "Product launch 2026", "completed", "copilot", "inbox_acme_sales", [5000, 2950, 410]],
  ["camp_acme_partners", "Partner newsletter", "active", "copilot", "inbox_acme_support", [80, 52, 9]],
].map(([id, name, status, mode, inbox_id, [sent, opened, replied]], i) => ({
  id, name, status, mode, inbox_id, stats: { sent, opened, replied },
  created_at: now - 60 * day + i * day, updated_at: now - 60 * day + i * day,
}));

function server() {
  const mcp = new McpServer({ name: "ts-reference", version: "1.0.0" });
  mcp.registerTool(
    "list_campaigns",
    {
      description: "Campaigns of the account, oldest first, optionally by status.",
      inputSchema: { status: z.enum(["draft", "active", "paused", "completed"]).optional() },
      annotations: { readOnlyHint: true },
    },
    async ({ status }) => {
      const found = campaigns.filter((c) => !status || c.status === status);
      const text = found.map((c) => `- ${c.name} [${c.id}] ${c.status}`).join("\n");
      return { content: [{ type: "text", text }], structuredContent: { campaigns: found } };
    },
  );
  return mcp;
}

const app = express();
app.use(express.json());
app.post("/mcp", requireBearerAuth({ verifier }), async (req, res) => {
  const mcp = server();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    transport.close();
    mcp.close();
  });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.listen(port, "127.0.0.1", () => console.log(`reference server on http://127.0.0.1:${port}/mcp`));
