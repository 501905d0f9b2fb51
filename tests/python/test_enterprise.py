"""Enterprise-managed authorization with the official Python MCP SDK's identity-assertion
client (`IdentityAssertionOAuthProvider`, RFC 7523 jwt-bearer with an ID-JAG), against
each server: no consent page, no browser at Alta.

The company's identity provider is Globex SSO (tests/idp/provider.mjs, which scripts/test
starts with an enterprise app and marks as trusted for ID-JAGs on every server; on the
stack through docs/enterprise-managed-authorization.md's commands). The app, "Acme Agent",
is two clients: `acme-agent` at Alta (a confidential pre-configured client whose secret is
in each server's Secrets Manager) and `acme-agent-at-globex` at the provider. As a real
app does, it signs the person in at its provider once (the provider's login and consent
screens, over HTTP) for an ID token, then exchanges that ID token there (RFC 8693) for a
fresh ID-JAG each time the SDK asks, which the SDK presents at Alta's /token.

sso@globex.example is a Member of Globex, which requires Globex SSO, and a Viewer of Acme,
which does not: the token acts in Globex."""

import base64
import hashlib
import json
import os
import secrets
from urllib.parse import urlencode

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthTokenError, TokenStorage
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from alta_walk import GLOBEX_SSO, SSO_EMAIL, Person, idps, location, loopback_client, mcp, query_of, token_claims

pytestmark = pytest.mark.anyio

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
# What the app asks its provider for; Alta gives the person no more than their role allows.
APP_SCOPES = "campaigns:read campaigns:write inbox:read"


def enterprise_app() -> dict[str, str]:
    raw = os.environ.get("ALTA_TEST_ENTERPRISE_APP", "")
    if not raw:
        raise RuntimeError("ALTA_TEST_ENTERPRISE_APP is not set: run these tests through scripts/test")
    return json.loads(raw)


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens: OAuthToken | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return None

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        raise AssertionError("the identity-assertion client never registers")


class AcmeAgent:
    """The app at the company's provider: signs `login` in once, then turns its ID token
    into an ID-JAG for each (audience, resource) the SDK names."""

    def __init__(self, login: str = SSO_EMAIL):
        self.app = enterprise_app()
        self.issuer = idps()[GLOBEX_SSO]
        self.login = login
        self.id_token: str | None = None
        self.asked: list[tuple[str, str]] = []
        self.issued: list[str] = []

    def _idp_token(self, data: dict) -> httpx2.Response:
        return httpx2.post(
            f"{self.issuer}/token",
            data=data,
            auth=(self.app["idp_client_id"], self.app["idp_client_secret"]),
            timeout=30,
        )

    async def sign_in(self) -> str:
        """The app's own OpenID Connect sign-in of the person at the provider."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        redirect = self.app["idp_redirect_uri"]
        url = f"{self.issuer}/auth?" + urlencode({
            "response_type": "code",
            "client_id": self.app["idp_client_id"],
            "redirect_uri": redirect,
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        })
        async with Person() as person:
            _, back = await person.sign_in_at_provider(await person.get(url), self.login, redirect)
        code = query_of(location(back))["code"][0]
        answer = self._idp_token({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        })
        assert answer.status_code == 200, answer.text
        return answer.json()["id_token"]

    async def id_jag(self, audience: str, resource: str) -> str:
        """The SDK's `assertion_provider`: a fresh ID-JAG from the provider (RFC 8693)."""
        if self.id_token is None:
            self.id_token = await self.sign_in()
        self.asked.append((audience, resource))
        answer = self._idp_token({
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": ID_JAG_TYPE,
            "subject_token": self.id_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "audience": audience,
            "resource": resource,
            "scope": APP_SCOPES,
        })
        assert answer.status_code == 200, answer.text
        assert answer.json()["issued_token_type"] == ID_JAG_TYPE
        self.issued.append(answer.json()["access_token"])
        return self.issued[-1]


def identity_assertion_client(
    base_url: str, agent: AcmeAgent, storage: MemoryStorage, client_secret: str | None = None
) -> Client:
    provider = IdentityAssertionOAuthProvider(
        server_url=f"{base_url}/mcp",
        storage=storage,
        client_id=agent.app["client_id"],
        client_secret=client_secret or agent.app["client_secret"],
        issuer=base_url,
        assertion_provider=agent.id_jag,
    )
    http = httpx2.AsyncClient(auth=provider, timeout=30)
    return Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode="auto")


def present(base_url: str, assertion: str, client_id: str, client_secret: str | None) -> httpx2.Response:
    """The jwt-bearer request by hand, as the SDK makes it (client_secret_post)."""
    data = {"grant_type": JWT_BEARER, "assertion": assertion, "client_id": client_id, "resource": f"{base_url}/mcp"}
    if client_secret is not None:
        data["client_secret"] = client_secret
    return httpx2.post(f"{base_url}/token", data=data, timeout=30)


async def test_the_sdk_gets_a_token_from_the_companys_assertion_and_calls_tools(base_url):
    agent = AcmeAgent()
    storage = MemoryStorage()
    async with identity_assertion_client(base_url, agent, storage) as client:
        account = await client.call_tool("get_account", {})
        assert not account.is_error, account.content
        assert account.structured_content["id"] == "acct_globex"
        assert account.structured_content["role"] == "Member"
        campaigns = await client.call_tool("list_campaigns", {})
        assert not campaigns.is_error, campaigns.content
        assert [c["id"] for c in campaigns.structured_content["campaigns"]] == ["camp_globex_intro"]
        emails = await client.call_tool("list_emails", {"inbox_id": "inbox_globex_main"})
        assert not emails.is_error, emails.content

    # The SDK asked once, for Alta's issuer and MCP resource, and got an access token
    # without a refresh token, scoped to what a Member may do.
    assert agent.asked == [(base_url, f"{base_url}/mcp")]
    assert storage.tokens is not None
    assert storage.tokens.refresh_token is None
    assert set(storage.tokens.scope.split()) == {"campaigns:read", "inbox:read"}
    claims = token_claims(storage.tokens.access_token)
    assert claims["client_id"] == agent.app["client_id"]
    assert claims["account_id"] == "acct_globex"
    assert claims["idp"] == GLOBEX_SSO
    assert claims["grant_id"]
    assert claims["iss"] == base_url
    # The ID-JAG was the provider's, for this app at Alta.
    assertion = token_claims(agent.issued[0])
    assert (assertion["iss"], assertion["aud"], assertion["client_id"]) == (
        agent.issuer,
        base_url,
        agent.app["client_id"],
    )


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, as the SDK's task groups raise them."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def test_the_role_bounds_the_scope_and_a_step_up_beyond_it_is_refused(base_url):
    """A Member's token has no campaigns:write: pause_campaign gets 403 insufficient_scope,
    the SDK steps up with a fresh assertion asking for it, and Alta refuses (invalid_scope),
    since the role does not allow it. The SDK stops there, with no token beyond the role."""
    agent = AcmeAgent()
    storage = MemoryStorage()
    with pytest.raises(BaseException) as raised:
        async with identity_assertion_client(base_url, agent, storage) as client:
            account = await client.call_tool("get_account", {})
            assert not account.is_error, account.content
            granted = storage.tokens
            forbidden = mcp(base_url, granted.access_token, "tools/call", {
                "name": "pause_campaign", "arguments": {"campaign_id": "camp_globex_intro"},
            })
            assert forbidden.status_code == 403, forbidden.text
            challenge = forbidden.headers["www-authenticate"]
            assert 'error="insufficient_scope"' in challenge and 'scope="campaigns:write"' in challenge
            await client.call_tool("pause_campaign", {"campaign_id": "camp_globex_intro"})
    refusals = [e for e in leaves(raised.value) if isinstance(e, OAuthTokenError)]
    assert refusals and "invalid_scope" in str(refusals[0]), raised.value
    assert len(agent.issued) == 2, "the step-up asked for a fresh assertion"
    assert storage.tokens is granted
    assert "campaigns:write" not in storage.tokens.scope.split()


async def test_a_revoked_managed_grant_stops_at_once_and_an_assertion_is_good_once(base_url):
    agent = AcmeAgent()
    assertion = await agent.id_jag(base_url, f"{base_url}/mcp")
    first = present(base_url, assertion, agent.app["client_id"], agent.app["client_secret"])
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    assert "refresh_token" not in first.json()
    assert mcp(base_url, token, "tools/call", {"name": "get_account", "arguments": {}}).status_code == 200

    again = present(base_url, assertion, agent.app["client_id"], agent.app["client_secret"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    assert "used already" in again.json()["error_description"]

    revoked = httpx2.post(
        f"{base_url}/revoke",
        data={"token": token, "client_id": agent.app["client_id"], "client_secret": agent.app["client_secret"]},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    after = mcp(base_url, token, "tools/call", {"name": "get_account", "arguments": {}})
    assert after.status_code == 401, after.text
    assert 'error="invalid_token"' in after.headers["www-authenticate"]


async def test_only_the_app_with_its_secret_may_present_the_assertion(base_url):
    agent = AcmeAgent()
    storage = MemoryStorage()
    with pytest.raises(BaseException) as raised:
        async with identity_assertion_client(base_url, agent, storage, client_secret="not-the-secret") as client:
            await client.list_tools()
    refusals = [e for e in leaves(raised.value) if isinstance(e, OAuthTokenError)]
    assert refusals and "invalid_client" in str(refusals[0]), raised.value
    assert storage.tokens is None

    # A public client (registered, no secret) may not present one at all, and the
    # assertion, refused, is still good for its own app.
    assertion = await agent.id_jag(base_url, f"{base_url}/mcp")
    public = present(base_url, assertion, loopback_client(base_url), None)
    assert (public.status_code, public.json()["error"]) == (400, "unauthorized_client"), public.text
    # Refused before it was spent: it still serves the app it names.
    ok = present(base_url, assertion, agent.app["client_id"], agent.app["client_secret"])
    assert ok.status_code == 200, ok.text
