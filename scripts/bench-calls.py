"""AWS calls per operation, counted by the SDK (ALTA_MEASURE_AWS_CALLS): each operation is
sent twice to the emulated stack (scripts/stack with STACK_ENV=ALTA_MEASURE_AWS_CALLS=1),
first to a fresh container, then to a warm one, and its function's log line is read back:
DynamoDB and Secrets Manager calls by operation, sequential rounds, consumed read and
write units. Writes target/bench/aws-calls.json.

usage: bench-calls.py <stack base URL> <stack log dir> [account]   (account: acct_acme)
"""

import base64
import hashlib
import json
import os
import re
import secrets
import sys
import time
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import httpx2

base, log_dir = sys.argv[1].rstrip("/"), sys.argv[2]
account = sys.argv[3] if len(sys.argv) > 3 else "acct_acme"
redirect = "http://127.0.0.1:45000/callback"
http = httpx2.Client(follow_redirects=False, timeout=60)
results = []


def log_lines(function):
    path = os.path.join(log_dir, f"{function}.log")
    return open(path).read().splitlines() if os.path.exists(path) else []


warm = set()


def measured(name, function, send, times=2):
    """Sends the request `times` times; records the `aws` field of each request's log line,
    and whether it was the function's first request (a fresh container)."""
    for attempt in range(1, times + 1):
        # Let the last container ask for its next event, so that it serves this one (a
        # request that finds every container busy starts another, as Lambda would).
        time.sleep(0.2)
        before = len(log_lines(function))
        response = send()
        after = log_lines(function)[before:]
        lines = [json.loads(l) for l in after if l.startswith("{")]
        requests = [l["fields"] for l in lines if l.get("fields", {}).get("message") == "request"]
        if not requests or "aws" not in requests[-1]:
            sys.exit(f"{name}: no measured request line in {function}.log (status {response.status_code})")
        aws = json.loads(requests[-1]["aws"])
        results.append({"operation": name, "function": function, "attempt": attempt,
                        "cold": function not in warm, "status": response.status_code,
                        "latency_us": requests[-1].get("latency_us"), **aws})
        warm.add(function)
    return response


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


# The JWKS first: a fresh discovery container's first request reads the key secret.
measured("discovery: JWKS", "discovery", lambda: http.get(f"{base}/.well-known/jwks.json"))
measured("discovery: authorization server metadata", "discovery",
         lambda: http.get(f"{base}/.well-known/oauth-authorization-server"))
measured("register", "register", lambda: http.post(f"{base}/register", json={
    "client_name": "bench", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"}))
client_id = http.post(f"{base}/register", json={"client_name": "bench", "redirect_uris": [redirect]}).json()["client_id"]

state = {}


def authorize_get():
    state["verifier"], challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                       "code_challenge": challenge, "code_challenge_method": "S256", "state": "s",
                       "resource": f"{base}/mcp"})
    page = http.get(f"{base}/authorize?{query}")
    state["pending"] = unescape(re.search(r'name="request" value="([^"]+)"', page.text).group(1))
    return page


def authorize_post():
    answer = http.post(f"{base}/authorize", data={
        "request": state["pending"], "email": "demo@alta.local", "password": "alta-demo",
        "account": account, "decision": "allow"})
    state["code"] = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    return answer


def token_code():
    answer = http.post(f"{base}/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": state["code"],
        "redirect_uri": redirect, "code_verifier": state["verifier"], "resource": f"{base}/mcp"})
    state["tokens"] = answer.json()
    return answer


def consent_and_exchange():
    authorize_get()
    authorize_post()
    return token_code()


# Each measured step needs a fresh form, code or token: the helpers make one per send.
measured("authorize GET (the sign-in page)", "authorize", authorize_get)


def authorize_post_fresh():
    authorize_get()
    return authorize_post()


measured("authorize POST (sign-in and consent)", "authorize", authorize_post_fresh)


def token_code_fresh():
    authorize_get()
    authorize_post()
    return token_code()


measured("token: authorization_code", "token", token_code_fresh)


def token_refresh():
    answer = http.post(f"{base}/token", data={
        "grant_type": "refresh_token", "client_id": client_id,
        "refresh_token": state["tokens"]["refresh_token"]})
    state["tokens"] = answer.json()
    return answer


measured("token: refresh_token", "token", token_refresh)

access = state["tokens"]["access_token"]

def tool(name, arguments):
    def send():
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": name, "arguments": arguments,
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}}
        answer = http.post(f"{base}/mcp", json=body, headers={
            "authorization": f"Bearer {access}", "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call", "mcp-name": name})
        assert answer.status_code == 200 and not answer.json()["result"].get("isError"), answer.text
        return answer
    return send


listed = tool("list_campaigns", {})()
first_campaign = listed.json()["result"]["structuredContent"]["campaigns"][0]["id"]
emails = tool("list_emails", {})().json()["result"]["structuredContent"]["emails"]
inbox = emails[0]["inbox_id"]
for name, arguments in [
    ("get_account", {}),
    ("list_campaigns", {}),
    ("list_campaigns", {"status": "active"}),
    ("get_campaign", {"campaign_id": first_campaign}),
    ("pause_campaign", {"campaign_id": first_campaign}),
    ("resume_campaign", {"campaign_id": first_campaign}),
    ("list_inboxes", {}),
    ("list_emails", {}),
    ("list_emails", {"inbox_id": inbox}),
    ("list_emails", {"query": "re"}),
    ("get_email", {"email_id": emails[0]["id"]}),
]:
    label = f"tools/call {name}" + (f" {json.dumps(arguments)}" if name.startswith("list") and arguments else "")
    measured(label, "mcp", tool(name, arguments))


def revoke():
    consent_and_exchange()
    return http.post(f"{base}/revoke", data={
        "client_id": client_id, "token": state["tokens"]["refresh_token"], "token_type_hint": "refresh_token"})


measured("revoke (a refresh token)", "revoke", revoke)

# Each container's cold start, as the emulator reported it with its first response.
cold_starts = {}
first_requests = {}
for r in results:
    first_requests.setdefault(r["function"], r)
for function in ("discovery", "register", "authorize", "token", "revoke", "mcp"):
    for line in log_lines(function):
        if '"cold_start"' in line and function in first_requests:
            first = first_requests[function]
            report = json.loads(line)
            cold_starts.setdefault(function, {**report, "request": first["operation"],
                                              "aws_wait_ms": first.get("wait_ms", 0.0)})

out = os.environ.get("BENCH_CALLS_OUT", "target/bench/aws-calls.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump({"account": account, "results": results, "cold_starts": cold_starts}, open(out, "w"), indent=1)
for r in results:
    calls = ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(r["calls"].items()))
    print(f"{r['operation']:<48} #{r['attempt']}{' cold' if r['cold'] else '     '} {r['rounds']} rounds  {calls:<60} "
          f"R {r['read_units']:.1f}  W {r['write_units']:.1f}")
