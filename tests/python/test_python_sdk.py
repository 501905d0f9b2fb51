"""The official Python MCP SDK (mcp 2.x) against the local server, from nothing: a 401 from
/mcp, protected-resource and authorization-server discovery, dynamic registration, the
sign-in form (posted by the redirect handler, as a person's browser would), the code
exchange with PKCE, then the Alta tools over MCP 2026-07-28 (the SDK's "auto" mode) and
over the 2025-11-25 initialize handshake ("legacy" mode); a person with two accounts
choosing the second at consent; a refresh; a denied consent."""

import json
import re
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

DEMO_PASSWORD = "alta-demo"
# The tool contract, which the Rust catalog test keeps equal to the server's list.
CONTRACT_TOOLS = [
    t["name"]
    for t in json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "tools.json").read_text())["tools"]
]
REDIRECT_URI = "http://127.0.0.1:34567/callback"


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class ConsentDenied(Exception):
    pass


class SignInBrowser:
    """Plays the person: opens the authorization URL, fills in the sign-in form, clicks a
    button, chooses an account when the person has several (`account`, else the
    preselected one), and catches the redirect to the client's loopback callback."""

    def __init__(self, email: str, decision: str = "allow", account: str | None = None):
        self.email = email
        self.decision = decision
        self.account = account
        self.offered_accounts: list[str] = []
        self.result: AuthorizationCodeResult | None = None
        self.authorization_url: str | None = None
        self.error: dict | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_url = authorization_url
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, page.text
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            field = re.search(r'name="request" value="([^"]+)"', page.text)
            assert field, "the sign-in page carries the pending request"
            action = urlparse(authorization_url)
            form_url = f"{action.scheme}://{action.netloc}{action.path}"
            response = await browser.post(
                form_url,
                data={
                    "request": unescape(field.group(1)),
                    "email": self.email,
                    "password": DEMO_PASSWORD,
                    "decision": self.decision,
                },
            )
            if response.status_code == 200 and 'name="account"' in response.text:
                self.offered_accounts = re.findall(r'name="account" value="([^"]+)"', response.text)
                preselected = re.search(r'name="account" value="([^"]+)" checked', response.text)
                assert preselected, "the first account is preselected"
                field = re.search(r'name="request" value="([^"]+)"', response.text)
                response = await browser.post(
                    form_url,
                    data={
                        "request": unescape(field.group(1)),
                        "account": self.account or preselected.group(1),
                        "decision": self.decision,
                    },
                )
            assert response.status_code in (302, 303), response.text
            location = response.headers["location"]
            assert location.startswith(REDIRECT_URI)
            query = parse_qs(urlparse(location).query)
            if "error" in query:
                self.error = query
                raise ConsentDenied(query["error"][0])
            self.result = AuthorizationCodeResult(
                code=query["code"][0],
                state=query.get("state", [None])[0],
                iss=query.get("iss", [None])[0],
            )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def provider_for(base_url: str, browser: SignInBrowser, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK flow test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


async def mcp_call(client: httpx2.AsyncClient, base_url: str) -> httpx2.Response:
    return await client.post(
        f"{base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}},
        headers={"MCP-Protocol-Version": "2025-11-25", "Accept": "application/json, text/event-stream"},
    )


def sdk_client(base_url: str, provider: OAuthClientProvider, mode: str) -> Client:
    http = httpx2.AsyncClient(auth=provider, timeout=30)
    return Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode)


@pytest.mark.anyio
@pytest.mark.parametrize("mode, version", [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_sdk_connects_from_nothing_and_uses_the_tools(base_url, mode, version):
    storage = MemoryStorage()
    browser = SignInBrowser("demo@alta.local")
    async with sdk_client(base_url, provider_for(base_url, browser, storage), mode) as client:
        assert client.protocol_version == version

        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == CONTRACT_TOOLS

        account = await client.call_tool("get_account", {})
        assert not account.is_error
        assert account.structured_content["name"] == "Acme Corp"
        assert account.structured_content["role"] == "Admin"

        campaigns = await client.call_tool("list_campaigns", {"status": "active"})
        assert not campaigns.is_error
        active = [c["id"] for c in campaigns.structured_content["campaigns"]]
        assert "camp_acme_q4_outreach" in active

        paused = await client.call_tool("pause_campaign", {"campaign_id": "camp_acme_q4_outreach"})
        assert not paused.is_error, paused.content
        assert paused.structured_content["status"] == "paused"
        resumed = await client.call_tool("resume_campaign", {"campaign_id": "camp_acme_q4_outreach"})
        assert resumed.structured_content["status"] == "active"

        emails = await client.call_tool("list_emails", {"inbox_id": "inbox_acme_sales"})
        assert not emails.is_error
        assert len(emails.structured_content["emails"]) == 3

    # The whole OAuth flow ran through our pages: registration, PKCE S256, RFC 8707
    # resource, RFC 9207 iss.
    query = parse_qs(urlparse(browser.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [f"{base_url}/mcp"]
    assert browser.result.iss == base_url
    assert storage.client_info is not None and storage.client_info.client_id
    assert storage.tokens.refresh_token
    assert set(storage.tokens.scope.split()) == {"campaigns:read", "campaigns:write", "inbox:read"}


@pytest.mark.anyio
async def test_sdk_connects_to_the_account_chosen_at_consent(base_url):
    storage = MemoryStorage()
    browser = SignInBrowser("demo@alta.local", account="acct_globex")
    provider = provider_for(base_url, browser, storage)
    async with sdk_client(base_url, provider, "auto") as client:
        account = await client.call_tool("get_account", {})
        assert not account.is_error
        assert account.structured_content["id"] == "acct_globex"
        assert account.structured_content["role"] == "Member"
        assert [a["id"] for a in account.structured_content["other_accounts"]] == ["acct_acme"]
        campaigns = await client.call_tool("list_campaigns", {})
        assert [c["id"] for c in campaigns.structured_content["campaigns"]] == ["camp_globex_intro"]
        # A Member of Globex may not pause, whatever they may do in Acme.
        denied = await client.call_tool("pause_campaign", {"campaign_id": "camp_globex_intro"})
        assert denied.is_error and "Member" in denied.content[0].text
        acme = await client.call_tool("get_campaign", {"campaign_id": "camp_acme_q4_outreach"})
        assert acme.is_error, "another account's campaign is not found"
    assert browser.offered_accounts == ["acct_acme", "acct_globex"]

    # The choice is kept across a refresh.
    provider.context.token_expiry_time = time.time() - 1
    browser.result = None
    async with sdk_client(base_url, provider, "auto") as client:
        account = await client.call_tool("get_account", {})
        assert account.structured_content["id"] == "acct_globex"
    assert browser.result is None, "refreshed, not signed in again"


@pytest.mark.anyio
async def test_viewer_sees_pause_campaign_denied(base_url):
    storage = MemoryStorage()
    browser = SignInBrowser("viewer@alta.local")
    async with sdk_client(base_url, provider_for(base_url, browser, storage), "auto") as client:
        listed = await client.call_tool("list_campaigns", {})
        assert not listed.is_error
        denied = await client.call_tool("pause_campaign", {"campaign_id": "camp_acme_q4_outreach"})
        assert denied.is_error
        text = denied.content[0].text
        assert "Campaign.EditCampaign" in text and "Viewer" in text


@pytest.mark.anyio
async def test_sdk_refreshes_an_expired_access_token(base_url):
    storage = MemoryStorage()
    browser = SignInBrowser("viewer@alta.local")
    provider = provider_for(base_url, browser, storage)
    async with httpx2.AsyncClient(auth=provider, timeout=30) as client:
        first_response = await mcp_call(client, base_url)
        assert first_response.status_code == 200, first_response.text
        first = storage.tokens
        # Make the provider believe the access token has expired: it must refresh.
        provider.context.token_expiry_time = time.time() - 1
        browser.result = None
        response = await mcp_call(client, base_url)

    assert response.status_code == 200, response.text
    assert response.request.headers["authorization"] == f"Bearer {storage.tokens.access_token}"
    assert storage.tokens.access_token != first.access_token
    assert storage.tokens.refresh_token != first.refresh_token, "refresh tokens rotate"
    assert browser.result is None, "no second sign-in was needed"


@pytest.mark.anyio
async def test_denied_consent_gives_the_sdk_no_tokens(base_url):
    browser = SignInBrowser("demo@alta.local", decision="deny")
    storage = MemoryStorage()
    async with httpx2.AsyncClient(follow_redirects=False) as plain:
        unauthorized = await mcp_call(plain, base_url)
    assert unauthorized.status_code == 401
    assert 'resource_metadata="' in unauthorized.headers["www-authenticate"]
    with pytest.raises(Exception):
        async with httpx2.AsyncClient(auth=provider_for(base_url, browser, storage), timeout=30) as client:
            await mcp_call(client, base_url)
    assert browser.error["error"] == ["access_denied"]
    assert browser.error["iss"] == [base_url]
    assert "code" not in browser.error
    assert storage.tokens is None
