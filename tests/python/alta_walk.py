"""A person walking Alta's pages and the test OpenID providers over HTTP, for the tests of
signing in through an identity provider (test_federation.py, test_python_sdk.py,
test_browser.py).

scripts/test starts two instances of tests/idp/provider.mjs (panva's oidc-provider) and
names them in ALTA_TEST_IDPS, a JSON object of provider id → issuer:

- `test-id` ("Test ID"): offered to everyone as a "Sign in with Test ID" button;
- `globex-sso` ("Globex SSO"): claims the email domain globex.example and is required by
  the Globex account (acct_globex).

`Person` is one browser: one httpx2 client, so one cookie jar across Alta and the
providers (all on 127.0.0.1: cookies are shared across ports, their names differ), with
redirects followed by hand so that a test can stop at any hop (the redirect to the
provider, the provider's redirect to Alta's callback, the redirect to the client)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx2

TEST_ID = "test-id"
GLOBEX_SSO = "globex-sso"
DEMO_PASSWORD = "alta-demo"
SSO_EMAIL = "sso@globex.example"
# The scopes Alta asks a provider for (the record's default).
PROVIDER_SCOPES = {"openid", "email", "profile"}
# Any loopback redirect URI: Alta matches a loopback URI on any port (RFC 8252 §7.3), so
# one registration serves every test below, whatever port its callback listens on.
LOOPBACK_REDIRECT = "http://127.0.0.1:41999/callback"


def idps() -> dict[str, str]:
    """The test providers' issuers, by provider id."""
    raw = os.environ.get("ALTA_TEST_IDPS", "")
    if not raw:
        raise RuntimeError(
            "ALTA_TEST_IDPS is not set: run these tests through scripts/test, which starts the "
            "test OpenID providers (docs/testing.md, Running one suite)"
        )
    issuers = json.loads(raw)
    missing = {TEST_ID, GLOBEX_SSO} - issuers.keys()
    assert not missing, f"ALTA_TEST_IDPS names no {missing}"
    return issuers


# ------------------------------------------------------------------------ HTML forms


@dataclass
class Control:
    tag: str  # input, button
    name: str | None
    type: str
    value: str
    checked: bool = False
    disabled: bool = False
    text: str = ""  # a button's text, or the text of the <label> around an input
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Form:
    action: str  # absolute, resolved against the page's URL as a browser does
    method: str
    id: str | None
    controls: list[Control] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        """What a browser sends without the button: hidden, text, email and password inputs
        as they are, the checked radio of each group; nothing disabled."""
        out: dict[str, str] = {}
        for c in self.controls:
            if c.tag != "input" or not c.name or c.disabled:
                continue
            if c.type in ("radio", "checkbox"):
                if c.checked:
                    out[c.name] = c.value
            elif c.type not in ("submit", "button", "reset", "image"):
                out[c.name] = c.value
        return out

    def radios(self, name: str) -> list[Control]:
        return [c for c in self.controls if c.tag == "input" and c.type == "radio" and c.name == name]

    def buttons(self) -> list[Control]:
        return [c for c in self.controls if c.tag == "button" or c.type == "submit"]

    def button(self, name: str, value: str) -> Control | None:
        return next((b for b in self.buttons() if b.name == name and b.value == value), None)

    def field(self, name: str) -> Control | None:
        return next((c for c in self.controls if c.tag == "input" and c.name == name), None)


class _Parser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.h1: list[str] = []
        self.links: list[tuple[str, str]] = []  # (absolute href, text)
        self.text: list[str] = []
        self._in_h1 = False
        self._button: Control | None = None
        self._label: list[Control] | None = None
        self._label_text: list[str] = []
        self._link: tuple[str, list[str]] | None = None
        self._skip = 0  # inside <style> or <script>

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "form":
            self.form = Form(
                action=urljoin(self.page_url, a.get("action", "")),
                method=a.get("method", "get").lower(),
                id=a.get("id"),
            )
            self.forms.append(self.form)
        elif tag in ("input", "button") and self.form is not None:
            control = Control(
                tag=tag,
                name=a.get("name"),
                type=a.get("type", "text" if tag == "input" else "submit").lower(),
                value=a.get("value", ""),
                checked="checked" in a,
                disabled="disabled" in a,
                attrs=a,
            )
            self.form.controls.append(control)
            if tag == "button":
                self._button = control
            if self._label is not None:
                self._label.append(control)
        elif tag == "label":
            self._label, self._label_text = [], []
        elif tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        elif tag == "a":
            self._link = (urljoin(self.page_url, a.get("href", "")), [])

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag == "form":
            self.form = None
        elif tag == "button":
            self._button = None
        elif tag == "label" and self._label is not None:
            text = " ".join("".join(self._label_text).split())
            for control in self._label:
                control.text = text
            self._label = None
        elif tag == "h1":
            self._in_h1 = False
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join("".join(self._link[1]).split())))
            self._link = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._in_h1:
            self.h1[-1] += data
        if self._button is not None:
            self._button.text += data
        if self._label is not None:
            self._label_text.append(data)
        if self._link is not None:
            self._link[1].append(data)


@dataclass
class Page:
    """An HTML page as a browser sees it: its forms, first <h1>, links and text."""

    response: httpx2.Response
    forms: list[Form]
    h1: str
    links: list[tuple[str, str]]
    text: str

    @classmethod
    def of(cls, response: httpx2.Response) -> "Page":
        parser = _Parser(str(response.url))
        parser.feed(response.text)
        parser.close()
        return cls(
            response=response,
            forms=parser.forms,
            h1=" ".join(parser.h1[0].split()) if parser.h1 else "",
            links=parser.links,
            text=" ".join(" ".join(parser.text).split()),
        )

    @property
    def status(self) -> int:
        return self.response.status_code

    def form_with(self, name: str) -> Form:
        """The form that has a control named `name` (Alta's forms: `request`)."""
        for form in self.forms:
            if any(c.name == name for c in form.controls):
                return form
        raise AssertionError(f"no form with a `{name}` field on this page ({self.status}): {self.text[:600]}")

    def form_id(self, form_id: str) -> Form:
        for form in self.forms:
            if form.id == form_id:
                return form
        raise AssertionError(f"no form #{form_id} on this page ({self.status}): {self.text[:600]}")

    def describe(self) -> str:
        return f"{self.status} {self.response.url}: {self.text[:800]}"


@dataclass
class AccountPage:
    """Alta's account page: which account the app will act in."""

    page: Page
    form: Form

    @classmethod
    def of(cls, page: Page) -> "AccountPage":
        assert page.status == 200, page.describe()
        form = page.form_with("account")
        assert form.field("request") is not None, "the account page carries the pending request"
        assert form.button("decision", "allow") and form.button("decision", "deny"), page.describe()
        return cls(page, form)

    @property
    def offered(self) -> list[str]:
        return [r.value for r in self.form.radios("account")]

    @property
    def enabled(self) -> list[str]:
        return [r.value for r in self.form.radios("account") if not r.disabled]

    @property
    def disabled(self) -> list[str]:
        return [r.value for r in self.form.radios("account") if r.disabled]

    @property
    def checked(self) -> str | None:
        return next((r.value for r in self.form.radios("account") if r.checked), None)


# ----------------------------------------------------------------------------- a person


REDIRECTS = (301, 302, 303, 307, 308)


def location(response: httpx2.Response) -> str:
    """Where a redirect sends the browser, as an absolute URL."""
    assert response.status_code in REDIRECTS, f"{response.status_code}, not a redirect: {response.text[:800]}"
    return urljoin(str(response.url), response.headers["location"])


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


class Person:
    """One browser: one cookie jar across Alta and the providers; redirects by hand."""

    def __init__(self):
        self.http = httpx2.AsyncClient(follow_redirects=False, timeout=30)

    async def __aenter__(self) -> "Person":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()

    async def get(self, url: str) -> httpx2.Response:
        return await self.http.get(url)

    async def submit(self, form: Form, button: tuple[str, str] | None = None, **fields: str) -> httpx2.Response:
        """Submits `form` as a browser does (its current values), with the button
        `(name, value)` pressed and `fields` typed in."""
        data = form.values()
        data.update(fields)
        if button is not None:
            data[button[0]] = button[1]
        assert form.method == "post", form
        return await self.http.post(form.action, data=data)

    async def follow(self, response: httpx2.Response, *stop: str) -> httpx2.Response:
        """Follows redirects (GET) until a page, or a redirect to a URL starting with one
        of `stop`, which is returned unfollowed."""
        for _ in range(20):
            if response.status_code not in REDIRECTS:
                return response
            target = location(response)
            if any(target.startswith(s) for s in stop):
                return response
            response = await self.http.get(target)
        raise AssertionError(f"more than 20 redirects, the last to {response.url}")

    # --- Alta's sign-in page

    async def open_sign_in(self, authorization_url: str) -> Page:
        page = Page.of(await self.get(authorization_url))
        assert page.status == 200, page.describe()
        assert page.h1.startswith("Sign in to connect"), page.describe()
        page.form_with("request")
        return page

    async def press_provider_button(self, page: Page, provider: str) -> httpx2.Response:
        """Clicks "Sign in with <provider>" (formnovalidate: the empty email goes along)."""
        form = page.form_with("request")
        button = form.button("provider", provider)
        assert button is not None, f"no `provider={provider}` button: {page.describe()}"
        return await self.submit(form, button=("provider", provider))

    async def allow_with(self, page: Page, email: str, password: str = "") -> httpx2.Response:
        """Types an email (and a password, none by default) and presses Allow."""
        form = page.form_with("request")
        return await self.submit(form, button=("decision", "allow"), email=email, password=password)

    # --- the test provider's screens (tests/idp/provider.mjs)

    async def provider_login_screen(self, sent: httpx2.Response) -> Page:
        """From Alta's redirect to the provider to the provider's login screen."""
        page = Page.of(await self.follow(sent))
        assert page.status == 200, page.describe()
        page.form_id("login-form")
        return page

    async def sign_in_at_provider(
        self, sent: httpx2.Response, login: str, callback: str
    ) -> tuple[Page, httpx2.Response]:
        """At the provider that `sent` (Alta's redirect) goes to: the login screen (its page
        returned), `login` with any password, the consent screen, Continue; returns the
        provider's redirect to Alta's `callback`, not followed."""
        login_page = await self.provider_login_screen(sent)
        answer = await self.submit(login_page.form_id("login-form"), login=login, password="x")
        consent = Page.of(await self.follow(answer, callback))
        assert consent.status == 200, consent.describe()
        back = await self.submit(consent.form_id("consent-form"))
        back = await self.follow(back, callback)
        assert back.status_code in REDIRECTS and location(back).startswith(callback + "?"), (
            f"the provider did not send the person back to {callback}: {back.status_code} {back.text[:800]}"
        )
        return login_page, back

    async def cancel_at_provider(self, sent: httpx2.Response, callback: str) -> httpx2.Response:
        """Clicks Cancel on the provider's login screen; returns its redirect to Alta."""
        login_page = await self.provider_login_screen(sent)
        cancel = next((href for href, text in login_page.links if text == "Cancel"), None)
        assert cancel, login_page.describe()
        back = await self.follow(await self.get(cancel), callback)
        assert back.status_code in REDIRECTS and location(back).startswith(callback + "?"), back.text[:800]
        return back

    async def choose(self, accounts: AccountPage, account: str | None, decision: str = "allow") -> httpx2.Response:
        """Presses Allow (or Deny) on the account page with `account` chosen (None: as
        preselected)."""
        fields = {} if account is None else {"account": account}
        return await self.submit(accounts.form, button=("decision", decision), **fields)


def provider_request(sent: httpx2.Response, issuer: str) -> dict[str, str]:
    """Alta's redirect to a provider's authorization endpoint, checked as the contract
    says: code flow, PKCE S256, state, nonce, the callback and the record's scopes."""
    assert sent.status_code == 303, f"{sent.status_code}: {sent.text[:800]}"
    target = location(sent)
    assert target.startswith(issuer + "/"), f"sent to {target}, not to {issuer}"
    query = {k: v[0] for k, v in query_of(target).items()}
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["state"] and query["nonce"]
    assert set(query["scope"].split()) == PROVIDER_SCOPES
    return query


# ------------------------------------------------------------------------ OAuth clients


@dataclass
class Authorization:
    """One authorization request of a client, with PKCE, built by hand."""

    base_url: str
    client_id: str
    redirect_uri: str
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def url(self) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest())
        return f"{self.base_url}/authorize?" + urlencode({
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            "state": self.state,
            "resource": f"{self.base_url}/mcp",
        })

    @property
    def callback(self) -> str:
        """Alta's callback for the providers."""
        return f"{self.base_url}/authorize/callback"

    def check_callback(self, url: str) -> str:
        """The redirect to the client: to its redirect URI, with a code, the state sent
        and the issuer (RFC 9207). Returns the code."""
        assert url.split("?", 1)[0] == self.redirect_uri, url
        query = parse_qs(urlparse(url).query)
        assert "error" not in query, f"the person pressed Allow and got {query}"
        assert query["state"] == [self.state]
        assert query["iss"] == [self.base_url]
        assert len(query["code"]) == 1 and query["code"][0]
        return query["code"][0]

    def exchange(self, code: str) -> dict:
        response = httpx2.post(f"{self.base_url}/token", data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            "resource": f"{self.base_url}/mcp",
        }, timeout=30)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["token_type"].lower() == "bearer" and tokens["access_token"]
        return tokens


def register(base_url: str, name: str, redirect_uri: str) -> dict:
    response = httpx2.post(f"{base_url}/register", json={
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


_loopback_clients: dict[str, str] = {}


def loopback_client(base_url: str) -> str:
    """One registered loopback client per server, shared by the tests that need just some
    client: each stored registration counts against the address's 20 an hour."""
    if base_url not in _loopback_clients:
        _loopback_clients[base_url] = register(base_url, "Alta federation test", LOOPBACK_REDIRECT)["client_id"]
    return _loopback_clients[base_url]


def mcp(base_url: str, access_token: str, method: str, params: dict | None = None) -> httpx2.Response:
    return httpx2.post(
        f"{base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}},
        headers={
            "Authorization": f"Bearer {access_token}",
            "MCP-Protocol-Version": "2025-11-25",
            "Accept": "application/json, text/event-stream",
        },
        timeout=30,
    )


def get_account(base_url: str, access_token: str) -> dict:
    response = mcp(base_url, access_token, "tools/call", {"name": "get_account", "arguments": {}})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    return result["structuredContent"]


def token_claims(token: str) -> dict:
    """A JWT's payload, read without verifying it (Alta's access tokens are JWTs)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def mentions(text: str, *words: str) -> bool:
    """Whether the page text has every word, ignoring case and spacing."""
    flat = re.sub(r"\s+", " ", unescape(text)).lower()
    return all(w.lower() in flat for w in words)
