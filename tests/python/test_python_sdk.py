"""The official Python MCP SDK (mcp 2.x) against the local server, from nothing: a 401 from
/mcp, protected-resource and authorization-server discovery, dynamic registration, the
sign-in form (posted by the redirect handler, as a person's browser would), the code
exchange with PKCE, then the Alta tools over MCP 2026-07-28 (the SDK's "auto" mode) and
over the 2025-11-25 initialize handshake ("legacy" mode); a refresh; a denied consent.

Signing in through an identity provider (the test OpenID providers scripts/test starts;
alta_walk.py): a Globex person, whose email domain Globex SSO claims, sent there by the
email alone, choosing Globex (which requires Globex SSO) of their two accounts at consent;
"Sign in with Test ID" for demo@, whose Globex account is then shown disabled. Each
access token's `idp` claim names how the person signed in."""

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from alta_walk import (
    DEMO_PASSWORD,
    GLOBEX_SSO,
    SSO_EMAIL,
    TEST_ID,
    AccountPage,
    Page,
    Person,
    idps,
    location,
    mentions,
    provider_request,
    query_of,
    token_claims,
)

# The tool contract, which the Rust catalog test keeps equal to the server's list.
CONTRACT_TOOLS = [
    t["name"]
    for t in json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "tools.json").read_text())["tools"]
]
REDIRECT_URI = "http://127.0.0.1:34567/callback"
# Claude's callback: registering it gets the pre-configured `claude` client (which no
# registration limit counts); the redirect is read, never followed.
CLAUDE_REDIRECT = "https://claude.ai/api/mcp/auth_callback"


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
    """Plays the person: opens the authorization URL, fills in the sign-in form with a
    password, clicks a button, chooses an account when the person has several
    (`account`, else the preselected one), and catches the redirect to the client's
    loopback callback."""

    def __init__(
        self, email: str, decision: str = "allow", account: str | None = None, redirect_uri: str = REDIRECT_URI
    ):
        self.email = email
        self.decision = decision
        self.account = account
        self.redirect_uri = redirect_uri
        self.offered_accounts: list[str] = []
        self.disabled_accounts: list[str] = []
        self.account_page_text = ""
        self.result: AuthorizationCodeResult | None = None
        self.authorization_url: str | None = None
        self.error: dict | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_url = authorization_url
        async with Person() as browser:
            page = await browser.open_sign_in(authorization_url)
            assert "frame-ancestors 'none'" in page.response.headers["content-security-policy"]
            form = page.form_with("request")
            response = await browser.submit(
                form, button=("decision", self.decision), email=self.email, password=DEMO_PASSWORD
            )
            if response.status_code == 200 and 'name="account"' in response.text:
                accounts = AccountPage.of(Page.of(response))
                self.offered_accounts = accounts.offered
                self.disabled_accounts = accounts.disabled
                self.account_page_text = accounts.page.text
                assert accounts.checked, "the first account is preselected"
                response = await browser.choose(accounts, self.account, self.decision)
            self._redirected(response)

    def _redirected(self, response) -> None:
        assert response.status_code in (302, 303), response.text
        target = location(response)
        assert target.startswith(self.redirect_uri + "?"), target
        query = query_of(target)
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


class ProviderSignInBrowser(SignInBrowser):
    """Plays a person who signs in through an identity provider, in one cookie jar across
    Alta and the provider: at Alta's sign-in page either the email alone and Allow (`email`:
    Alta sends its domain's provider, `via`, a `login_hint`) or the "Sign in with …" button
    of `via`; at the provider the login (`login`, any password), then its consent; back at
    Alta the account page, always shown after a provider, where it allows `account` (else
    the preselected one)."""

    def __init__(
        self,
        base_url: str,
        via: str,
        login: str,
        email: str | None = None,
        account: str | None = None,
        redirect_uri: str = REDIRECT_URI,
    ):
        super().__init__(email or login, account=account, redirect_uri=redirect_uri)
        self.base_url = base_url
        self.via = via
        self.login = login
        self.typed_email = email
        self.provider_query: dict[str, str] = {}
        self.preselected: str | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_url = authorization_url
        callback = f"{self.base_url}/authorize/callback"
        async with Person() as browser:
            page = await browser.open_sign_in(authorization_url)
            if self.typed_email is not None:
                sent = await browser.allow_with(page, self.typed_email)
            else:
                sent = await browser.press_provider_button(page, self.via)
            self.provider_query = provider_request(sent, idps()[self.via])
            assert self.provider_query["redirect_uri"] == callback
            _, back = await browser.sign_in_at_provider(sent, self.login, callback)
            accounts = AccountPage.of(Page.of(await browser.get(location(back))))
            self.offered_accounts = accounts.offered
            self.disabled_accounts = accounts.disabled
            self.account_page_text = accounts.page.text
            self.preselected = accounts.checked
            response = await browser.choose(accounts, self.account, self.decision)
            self._redirected(response)


def provider_for(base_url: str, browser: SignInBrowser, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK flow test",
            redirect_uris=[browser.redirect_uri],
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
    # demo@ is also a Member of Globex, which requires Globex SSO: a password sign-in shows
    # it, disabled, and says why.
    assert browser.offered_accounts == ["acct_acme", "acct_globex"]
    assert browser.disabled_accounts == ["acct_globex"]
    assert mentions(browser.account_page_text, "requires signing in with Globex SSO")
    assert token_claims(storage.tokens.access_token)["idp"] == "password"


@pytest.mark.anyio
async def test_sdk_connects_through_globex_sso_to_the_account_chosen_at_consent(base_url):
    """sso@globex.example has no password: the email alone at Alta's sign-in page sends them
    to Globex SSO (the provider claiming globex.example) with a login_hint; back at Alta
    they choose Globex, of their two accounts, on the account page."""
    storage = MemoryStorage()
    browser = ProviderSignInBrowser(base_url, GLOBEX_SSO, SSO_EMAIL, email=SSO_EMAIL, account="acct_globex")
    provider = provider_for(base_url, browser, storage)
    async with sdk_client(base_url, provider, "auto") as client:
        account = await client.call_tool("get_account", {})
        assert not account.is_error, account.content
        assert account.structured_content["id"] == "acct_globex"
        assert account.structured_content["role"] == "Member"
        assert [a["id"] for a in account.structured_content["other_accounts"]] == ["acct_acme"]
        campaigns = await client.call_tool("list_campaigns", {})
        assert not campaigns.is_error, campaigns.content
        assert [c["id"] for c in campaigns.structured_content["campaigns"]] == ["camp_globex_intro"]
        # A Member of Globex may not pause, whatever they may do in Acme.
        denied = await client.call_tool("pause_campaign", {"campaign_id": "camp_globex_intro"})
        assert denied.is_error and "Member" in denied.content[0].text
        acme = await client.call_tool("get_campaign", {"campaign_id": "camp_acme_q4_outreach"})
        assert acme.is_error, "another account's campaign is not found"
    assert browser.provider_query["login_hint"] == SSO_EMAIL
    # Both accounts can be chosen: only Globex requires a provider, and it is this one.
    assert sorted(browser.offered_accounts) == ["acct_acme", "acct_globex"]
    assert browser.disabled_accounts == []
    assert token_claims(storage.tokens.access_token)["idp"] == GLOBEX_SSO
    assert browser.result.iss == base_url

    # The choice, and how the person signed in, are kept across a refresh.
    first = storage.tokens
    provider.context.token_expiry_time = time.time() - 1
    browser.result = None
    async with sdk_client(base_url, provider, "auto") as client:
        account = await client.call_tool("get_account", {})
        assert not account.is_error, account.content
        assert account.structured_content["id"] == "acct_globex"
    assert browser.result is None, "refreshed, not signed in again"
    assert storage.tokens.access_token != first.access_token
    assert token_claims(storage.tokens.access_token)["idp"] == GLOBEX_SSO


@pytest.mark.anyio
async def test_sdk_connects_through_the_sign_in_with_test_id_button(base_url):
    """demo@ presses "Sign in with Test ID" (offered to everyone), signs in there, and on
    Alta's account page finds Acme and Globex, Globex disabled: it requires Globex SSO.
    The SDK registers Claude's callback, as Claude does, and gets the `claude` client."""
    storage = MemoryStorage()
    browser = ProviderSignInBrowser(
        base_url, TEST_ID, "demo@alta.local", account="acct_acme", redirect_uri=CLAUDE_REDIRECT
    )
    async with sdk_client(base_url, provider_for(base_url, browser, storage), "auto") as client:
        account = await client.call_tool("get_account", {})
        assert not account.is_error, account.content
        assert account.structured_content["id"] == "acct_acme"
        assert account.structured_content["role"] == "Admin"
        campaigns = await client.call_tool("list_campaigns", {"status": "active"})
        assert not campaigns.is_error, campaigns.content
        assert "camp_acme_q4_outreach" in [c["id"] for c in campaigns.structured_content["campaigns"]]
    assert storage.client_info.client_id == "claude"
    assert "login_hint" not in browser.provider_query
    assert browser.offered_accounts == ["acct_acme", "acct_globex"]
    assert browser.disabled_accounts == ["acct_globex"]
    assert browser.preselected == "acct_acme"
    assert mentions(browser.account_page_text, "requires signing in with Globex SSO")
    assert token_claims(storage.tokens.access_token)["idp"] == TEST_ID


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
