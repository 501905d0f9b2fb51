"""The sign-in, account, consent and connected-apps pages in a real browser: headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright's Python package) walks them as
a person does, against each server in ALTA_TEST_SERVERS.

- A loopback client (RFC 8252): the person types the email and password and presses Enter;
  Enter means Allow (the form's first submit button), on the sign-in page and on the
  account page, where demo@'s Globex is disabled (it requires Globex SSO) and the arrow
  key cannot pick it. The browser ends at the client's loopback callback with `code`,
  `state` and `iss`, and the code buys a token that lists the tools.
- Through an identity provider (the test OpenID providers scripts/test starts; see
  alta_walk.py): a Globex email and Enter lead to Globex SSO's screens with the email
  filled in, then to Alta's account page, where the arrow key picks the other account;
  "Sign in with Test ID" for demo@, with Globex disabled on the account page.
- Claude's https callback and Cursor's `cursor://` one, with a password and through a
  provider: the browser is sent there after Allow (intercepted: there is no internet),
  and no Content Security Policy refusal is logged (the pages' `form-action` must allow
  the redirect after the POST: to the client, and to the provider).
- The connected-apps page: sign in with Enter, the app is listed, Disconnect ends its
  access token at once.

Screenshots of every page go to target/browser-screenshots/<server>/; the `memory` run
also writes docs/images/consent.png, docs/images/connections.png and
docs/images/sign-in-with-provider.png. scripts/test installs Chromium; without it these
tests fail, never skip."""

import json
import os
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from alta_walk import (
    DEMO_PASSWORD,
    GLOBEX_SSO,
    SSO_EMAIL,
    TEST_ID,
    Authorization,
    idps,
    loopback_client,
    mcp,
    register,
    token_claims,
)

CHROMIUM = "/usr/bin/chromium"
# Playwright gives each launch a new empty --user-data-dir, and adds --headless and
# --no-sandbox itself; without the background-networking flags Chromium keeps trying to
# reach Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fixed, so that the docs pictures are the same from one run to the next.
VIEWPORT = {"width": 900, "height": 1000}
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "target" / "browser-screenshots"
DOCS_IMAGES = REPO / "docs" / "images"
# The docs pictures come from this server's run only.
DOCS_SERVER = "memory"

CLAUDE_REDIRECT = "https://claude.ai/api/mcp/auth_callback"
CURSOR_REDIRECT = "cursor://anysphere.cursor-mcp/oauth/callback"
# The tool contract, which the Rust catalog test keeps equal to the server's list.
TOOLS = [t["name"] for t in json.loads((REPO / "tests" / "fixtures" / "tools.json").read_text())["tools"]]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium():
    """One browser for the module; each test opens its own context (cookies, cache)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(scripts/test does: install_chromium in scripts/lib.sh)"
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def server_name(request):
    # conftest.py's base_url is parametrised over (name, url) pairs.
    return request.node.callspec.params["base_url"][0]


class Tab:
    """A page in a fresh browser context, with everything the console said, and the
    screenshots it takes."""

    def __init__(self, context, shots: Path, server_name: str):
        self.context = context
        self.page = context.new_page()
        # A step that goes wrong fails in seconds, not in Playwright's default 30.
        self.page.set_default_timeout(10_000)
        self.shots = shots
        self.server_name = server_name
        self.console: list[tuple[str, str, str]] = []  # (type, text, where it came from)
        self.page.on("console", lambda m: self.console.append((m.type, m.text, m.location.get("url", ""))))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e), "")))

    def screenshot(self, name: str, docs_name: str | None = None) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        if docs_name and self.server_name == DOCS_SERVER:
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(DOCS_IMAGES / docs_name), full_page=True)

    def csp_refusals(self) -> list[str]:
        return [text for _, text, _ in self.console if "Content Security Policy" in text]

    def errors(self) -> list[str]:
        """Console errors, but for the favicon the browser asks for by itself (the pages
        name none; the server answers 404)."""
        return [
            f"{kind}: {text} ({url})"
            for kind, text, url in self.console
            if kind in ("error", "pageerror") and not url.endswith("/favicon.ico")
        ]


@pytest.fixture
def tab(chromium, server_name):
    shots = SCREENSHOTS / server_name
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    try:
        yield Tab(context, shots, server_name)
    finally:
        context.close()


# ------------------------------------------------------------------------------ helpers


class CallbackServer:
    """The loopback client's redirect URI, listening on a free port: what a desktop MCP
    client runs while the person signs in."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if urlparse(self.path).path == "/callback":
                    hits.append(self.path)
                body = b"<!doctype html><title>Callback</title><p>You can close this window.</p>"
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def assert_tools_listed(base_url: str, access_token: str) -> None:
    response = mcp(base_url, access_token, "tools/list")
    assert response.status_code == 200, response.text
    assert [t["name"] for t in response.json()["result"]["tools"]] == TOOLS


def account_of(base_url: str, access_token: str) -> str:
    response = mcp(base_url, access_token, "tools/call", {"name": "get_account", "arguments": {}})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    return result["structuredContent"]["id"]


@contextmanager
def sent_to(tab: Tab, redirect_uri: str):
    """Expects the browser to be sent to `redirect_uri` (with a query) by what the body
    does; yields the request's info (`.value`). If it is not, fails naming what the
    console said (a CSP refusal blocks the redirect after the form's POST)."""
    try:
        with tab.page.expect_request(lambda r: r.url.startswith(redirect_uri + "?")) as request:
            yield request
    except PlaywrightTimeout:
        pytest.fail(f"the browser was not sent to {redirect_uri}; its console: {tab.console}")
    assert request.value.is_navigation_request()


def type_credentials(tab: Tab, email: str) -> None:
    """Types into the sign-in form, key by key, as a person does."""
    page = tab.page
    assert page.locator("h1").inner_text().startswith("Sign in to connect"), page.content()
    page.locator("#email").press_sequentially(email)
    page.locator("#password").press_sequentially(DEMO_PASSWORD)


def to_account_page(tab: Tab, auth: Authorization, submit, name: str) -> None:
    """demo@ submits the sign-in form (`submit`: Enter, or a click on Allow) and must get
    the account page, Acme Corp preselected; a redirect instead fails here, saying where
    it went (an `access_denied` when Enter meant Deny)."""
    page = tab.page
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url == f"{auth.base_url}/authorize"
    ) as posted:
        submit()
    answer = posted.value
    if answer.status in (301, 302, 303):
        location = answer.headers["location"]
        auth.check_callback(location)
        pytest.fail(f"demo@ has two accounts, yet signing in sent them straight to {location}")
    assert answer.status == 200, answer.text()
    expect(page.locator("h1")).to_contain_text("to which account?")
    assert_demo_accounts(tab)
    tab.screenshot(name)


def offered_accounts(tab: Tab) -> dict[str, bool]:
    """The account page's choices: account id → enabled."""
    return {r.get_attribute("value"): r.is_enabled() for r in tab.page.locator("input[name=account]").all()}


def assert_demo_accounts(tab: Tab) -> None:
    """demo@'s account page, after a password or Test ID: Acme preselected, Globex shown
    but disabled, since it requires Globex SSO."""
    page = tab.page
    assert offered_accounts(tab) == {"acct_acme": True, "acct_globex": False}
    assert list(offered_accounts(tab)) == ["acct_acme", "acct_globex"]
    assert page.locator("input[name=account]:checked").get_attribute("value") == "acct_acme"
    assert re.search("requires signing in with Globex SSO", page.locator("main").inner_text(), re.I), page.content()


def provider_screens(
    tab: Tab, base_url: str, issuer: str, name: str, login: str | None = None, prefilled: str | None = None
) -> None:
    """At a test provider (tests/idp/provider.mjs): its login screen (the login typed, or
    checked to be filled in from Alta's login_hint), Sign-in, its consent screen,
    Continue; then back at Alta's account page, shown by the provider's callback."""
    page = tab.page
    page.wait_for_url(issuer + "/interaction/**")
    expect(page.locator("#login-form")).to_be_visible()
    if prefilled is not None:
        assert page.locator("#login").input_value() == prefilled
    if login is not None:
        page.locator("#login").fill(login)
    tab.screenshot(f"{name}-login")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#consent-form")).to_be_visible()
    tab.screenshot(f"{name}-consent")
    page.click("#consent-form button[type=submit]")
    expect(page.locator("input[name=account]").first).to_be_attached()
    assert page.url.startswith(f"{base_url}/authorize/callback?"), page.url


# -------------------------------------------------------------------------------- tests


def test_enter_at_sign_in_and_account_page_means_allow(tab, base_url):
    """demo@ (two accounts): Enter in the password field, then, on the account page, the
    arrow key (which cannot pick Globex: it requires Globex SSO) and Enter. The loopback
    callback gets a code for Acme."""
    page = tab.page
    with CallbackServer() as callback:
        client = register(base_url, "Alta browser walk", callback.redirect_uri)
        auth = Authorization(base_url, client["client_id"], callback.redirect_uri)
        page.goto(auth.url)
        tab.screenshot("loopback-sign-in")
        type_credentials(tab, "demo@alta.local")
        to_account_page(tab, auth, lambda: page.locator("#password").press("Enter"), "loopback-account")

        page.locator("input[name=account]:checked").focus()
        page.keyboard.press("ArrowDown")
        assert page.locator("input[name=account]:checked").get_attribute("value") == "acct_acme"
        with sent_to(tab, callback.redirect_uri):
            page.keyboard.press("Enter")
        page.wait_for_url(callback.redirect_uri + "?**")
        tab.screenshot("loopback-callback")

        code = auth.check_callback(page.url)
        assert [urlparse(hit).query for hit in callback.hits] == [urlparse(page.url).query]
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == "acct_acme"
    assert token_claims(tokens["access_token"])["idp"] == "password"
    assert tab.csp_refusals() == []
    assert tab.errors() == []


def test_enter_sends_a_globex_email_to_globex_sso_and_the_arrow_key_picks_the_other_account(tab, base_url):
    """sso@globex.example (no password; Member of Globex, Viewer of Acme): the email and
    Enter at Alta's sign-in page lead to Globex SSO's login screen with the email filled
    in; after its consent screen, Alta's account page offers both accounts, the arrow key
    picks the one not preselected, and Enter allows. The form's `form-action` must let the
    POST be redirected to the provider."""
    page = tab.page
    with CallbackServer() as callback:
        auth = Authorization(base_url, loopback_client(base_url), callback.redirect_uri)
        page.goto(auth.url)
        page.locator("#email").press_sequentially(SSO_EMAIL)
        page.locator("#email").press("Enter")
        provider_screens(tab, base_url, idps()[GLOBEX_SSO], "globex-sso", prefilled=SSO_EMAIL)

        assert offered_accounts(tab) == {"acct_acme": True, "acct_globex": True}
        first = page.locator("input[name=account]:checked").get_attribute("value")
        page.locator("input[name=account]:checked").focus()
        page.keyboard.press("ArrowDown")
        other = page.locator("input[name=account]:checked").get_attribute("value")
        assert {first, other} == {"acct_acme", "acct_globex"}
        tab.screenshot("globex-sso-account")
        with sent_to(tab, callback.redirect_uri):
            page.keyboard.press("Enter")
        page.wait_for_url(callback.redirect_uri + "?**")
        code = auth.check_callback(page.url)
        assert len(callback.hits) == 1
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == other
    assert token_claims(tokens["access_token"])["idp"] == GLOBEX_SSO
    assert tab.csp_refusals() == []
    assert tab.errors() == []


def test_sign_in_with_test_id_button(tab, base_url):
    """demo@ clicks "Sign in with Test ID" with the email left empty (the button is
    formnovalidate), signs in at Test ID, and on Alta's account page finds Globex disabled;
    Allow connects Acme."""
    page = tab.page
    with CallbackServer() as callback:
        auth = Authorization(base_url, loopback_client(base_url), callback.redirect_uri)
        page.goto(auth.url)
        button = page.get_by_role("button", name="Sign in with Test ID")
        expect(button).to_be_visible()
        tab.screenshot("test-id-sign-in")
        button.click()
        provider_screens(tab, base_url, idps()[TEST_ID], "test-id", login="demo@alta.local")
        assert_demo_accounts(tab)
        tab.screenshot("test-id-account")
        with sent_to(tab, callback.redirect_uri):
            page.get_by_role("button", name="Allow").click()
        page.wait_for_url(callback.redirect_uri + "?**")
        code = auth.check_callback(page.url)
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == "acct_acme"
    assert token_claims(tokens["access_token"])["idp"] == TEST_ID
    assert tab.csp_refusals() == []
    assert tab.errors() == []


def test_enter_on_the_consent_form_means_allow_for_a_single_account_user(tab, base_url):
    """manager@ (one account): no account page; the sign-in page is the consent form, and
    Enter in its password field allows."""
    page = tab.page
    with CallbackServer() as callback:
        client = register(base_url, "Alta browser walk", callback.redirect_uri)
        auth = Authorization(base_url, client["client_id"], callback.redirect_uri)
        page.goto(auth.url)
        type_credentials(tab, "manager@alta.local")
        tab.screenshot("loopback-consent")
        with sent_to(tab, callback.redirect_uri):
            page.locator("#password").press("Enter")
        page.wait_for_url(callback.redirect_uri + "?**")
        code = auth.check_callback(page.url)
        assert len(callback.hits) == 1
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == "acct_acme"
    assert tab.csp_refusals() == []
    assert tab.errors() == []


def test_deny_button_sends_access_denied(tab, base_url):
    """Deny is still there, and a click on it denies (so the Enter tests above tell
    Allow from Deny)."""
    page = tab.page
    with CallbackServer() as callback:
        client = register(base_url, "Alta browser walk", callback.redirect_uri)
        auth = Authorization(base_url, client["client_id"], callback.redirect_uri)
        page.goto(auth.url)
        type_credentials(tab, "manager@alta.local")
        with sent_to(tab, callback.redirect_uri):
            page.get_by_role("button", name="Deny").click()
        page.wait_for_url(callback.redirect_uri + "?**")
        query = parse_qs(urlparse(page.url).query)
        assert query["error"] == ["access_denied"]
        assert query["state"] == [auth.state]
        assert query["iss"] == [base_url]
        assert "code" not in query
    assert tab.csp_refusals() == []


@pytest.mark.parametrize("email", ["manager@alta.local", "demo@alta.local"])
def test_claude_https_callback_is_reached_without_csp_refusal(tab, base_url, email):
    """claude.ai's registration gets the pre-configured `claude` client; after Allow the
    browser goes to https://claude.ai/api/mcp/auth_callback (answered here by a stand-in:
    no internet). manager@ is redirected from the sign-in page, demo@ from the account
    page: both pages' CSP `form-action` must allow claude.ai."""
    page = tab.page
    client = register(base_url, "Claude", CLAUDE_REDIRECT)
    assert client["client_id"] == "claude"
    reached = []

    def claude(route):
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><p>claude.ai (stand-in)</p>")

    page.route("https://claude.ai/**", claude)
    auth = Authorization(base_url, "claude", CLAUDE_REDIRECT)
    page.goto(auth.url)
    assert page.locator("h1").inner_text() == "Sign in to connect Claude"
    type_credentials(tab, email)
    single = email == "manager@alta.local"
    if single:
        tab.screenshot("claude-consent", docs_name="consent.png")
    with sent_to(tab, CLAUDE_REDIRECT):
        allow = lambda: page.get_by_role("button", name="Allow").click()  # noqa: E731
        if single:
            allow()
        else:
            to_account_page(tab, auth, allow, "claude-account")
            allow()
    page.wait_for_url(CLAUDE_REDIRECT + "?**")
    assert reached == [page.url]
    code = auth.check_callback(page.url)
    assert tab.csp_refusals() == []
    assert tab.errors() == []
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])


@pytest.mark.parametrize("email", ["manager@alta.local", "demo@alta.local"])
def test_cursor_scheme_callback_is_attempted_without_csp_refusal(tab, base_url, email):
    """Cursor's `cursor://` redirect: the browser attempts the navigation (an external
    protocol: headless Chromium has no handler and aborts it), with no CSP refusal. Enter
    on each page."""
    page = tab.page
    client = register(base_url, "Cursor", CURSOR_REDIRECT)
    assert client["client_id"] == "cursor"
    auth = Authorization(base_url, "cursor", CURSOR_REDIRECT)
    page.goto(auth.url)
    assert page.locator("h1").inner_text() == "Sign in to connect Cursor"
    type_credentials(tab, email)
    with sent_to(tab, CURSOR_REDIRECT) as request:
        enter = lambda: page.locator("#password").press("Enter")  # noqa: E731
        if email == "demo@alta.local":
            to_account_page(tab, auth, enter, "cursor-account")
            page.locator("input[name=account]:checked").press("Enter")
        else:
            enter()
    code = auth.check_callback(request.value.url)
    assert tab.csp_refusals() == []
    assert tab.errors() == []
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])


def test_claude_through_globex_sso_reaches_its_callback_without_csp_refusal(tab, base_url):
    """Claude (the pre-configured `claude` client) for sso@globex.example: the email and
    Allow send the browser to Globex SSO, then Alta's account page (rendered by the
    provider's callback) chooses Globex, and Allow sends the browser to claude.ai's
    callback (a stand-in). Neither redirect after a POST is refused by a CSP."""
    page = tab.page
    reached = []

    def claude(route):
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><p>claude.ai (stand-in)</p>")

    page.route("https://claude.ai/**", claude)
    auth = Authorization(base_url, "claude", CLAUDE_REDIRECT)
    page.goto(auth.url)
    assert page.locator("h1").inner_text() == "Sign in to connect Claude"
    page.locator("#email").press_sequentially(SSO_EMAIL)
    page.get_by_role("button", name="Allow").click()
    provider_screens(tab, base_url, idps()[GLOBEX_SSO], "claude-globex-sso", prefilled=SSO_EMAIL)
    page.locator("input[name=account][value=acct_globex]").check()
    with sent_to(tab, CLAUDE_REDIRECT):
        page.get_by_role("button", name="Allow").click()
    page.wait_for_url(CLAUDE_REDIRECT + "?**")
    assert reached == [page.url]
    code = auth.check_callback(page.url)
    assert tab.csp_refusals() == []
    assert tab.errors() == []
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == "acct_globex"
    assert token_claims(tokens["access_token"])["idp"] == GLOBEX_SSO


def test_cursor_through_test_id_attempts_its_callback_without_csp_refusal(tab, base_url):
    """Cursor (the pre-configured `cursor` client) for demo@ through "Sign in with Test
    ID": Enter on Alta's account page attempts the `cursor://` navigation, with no CSP
    refusal."""
    page = tab.page
    auth = Authorization(base_url, "cursor", CURSOR_REDIRECT)
    page.goto(auth.url)
    assert page.locator("h1").inner_text() == "Sign in to connect Cursor"
    page.get_by_role("button", name="Sign in with Test ID").click()
    provider_screens(tab, base_url, idps()[TEST_ID], "cursor-test-id", login="demo@alta.local")
    assert_demo_accounts(tab)
    tab.screenshot("cursor-test-id-account", docs_name="sign-in-with-provider.png")
    with sent_to(tab, CURSOR_REDIRECT) as request:
        page.locator("input[name=account]:checked").press("Enter")
    code = auth.check_callback(request.value.url)
    assert tab.csp_refusals() == []
    assert tab.errors() == []
    tokens = auth.exchange(code)
    assert_tools_listed(base_url, tokens["access_token"])
    assert account_of(base_url, tokens["access_token"]) == "acct_acme"
    assert token_claims(tokens["access_token"])["idp"] == TEST_ID


def test_connected_apps_page_lists_the_app_and_disconnect_ends_its_access(tab, base_url):
    """viewer@ connects a loopback app (clicking Allow), then opens /connections, signs
    in with Enter, finds the app and disconnects it: its access token gets 401 at once."""
    page = tab.page
    name = "Alta browser walk"
    with CallbackServer() as callback:
        client = register(base_url, name, callback.redirect_uri)
        auth = Authorization(base_url, client["client_id"], callback.redirect_uri)
        page.goto(auth.url)
        type_credentials(tab, "viewer@alta.local")
        with sent_to(tab, callback.redirect_uri):
            page.get_by_role("button", name="Allow").click()
        page.wait_for_url(callback.redirect_uri + "?**")
        code = auth.check_callback(page.url)
    token = auth.exchange(code)["access_token"]
    assert_tools_listed(base_url, token)

    page.goto(f"{base_url}/connections")
    assert page.locator("h1").inner_text() == "Connected apps"
    tab.screenshot("connections-sign-in")
    page.locator("#email").press_sequentially("viewer@alta.local")
    page.locator("#password").press_sequentially(DEMO_PASSWORD)
    page.locator("#password").press("Enter")
    expect(page.get_by_text("Signed in as viewer@alta.local.")).to_be_visible()
    sections = page.locator("section.connection")
    ours = sections.filter(has=page.locator("h2", has_text=re.compile(f"^{re.escape(name)}$")))
    assert ours.count() >= 1, page.content()
    assert all("Sends you back to 127.0.0.1" in text for text in ours.all_inner_texts())
    tab.screenshot("connections")
    if tab.server_name == DOCS_SERVER:
        # The docs picture, with the times set to a fixed one so that the file is the
        # same from one run to the next; the screenshot above is as served.
        page.evaluate("""() => {
            for (const p of document.querySelectorAll('section.connection p.muted')) {
                if (p.textContent.startsWith('Connected ')) {
                    p.textContent = 'Connected 2026-11-30 14:05 UTC · Last used 2026-11-30 14:05 UTC';
                }
            }
        }""")
        tab.screenshot("connections-docs", docs_name="connections.png")

    # The most recently used grant comes first: the one just made.
    before = ours.count()
    ours.first.get_by_role("button", name="Disconnect").click()
    expect(page.locator("p.notice")).to_contain_text(f"Disconnected {name}.")
    expect(ours).to_have_count(before - 1)
    tab.screenshot("connections-disconnected")

    response = mcp(base_url, token, "tools/list")
    assert response.status_code == 401, response.text
    assert tab.csp_refusals() == []
    assert tab.errors() == []


def test_csp_refusal_is_seen(chromium):
    """The CSP check above can fail: a page whose `form-action` does not allow where its
    POST is redirected logs a refusal that Tab.csp_refusals() sees (no server needed:
    both pages are served by the browser's own request interception)."""
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        tab = Tab(context, SCREENSHOTS / "self-check", "self-check")  # takes none
        page = tab.page

        def consent(route):
            if route.request.method == "POST":
                route.fulfill(status=302, headers={"location": CLAUDE_REDIRECT + "?code=x"})
            else:
                route.fulfill(
                    status=200,
                    content_type="text/html",
                    headers={"content-security-policy": "default-src 'none'; form-action 'self'"},
                    body="<!doctype html><form method=post action=/authorize><input id=password name=p></form>",
                )

        page.route("http://consent.test/**", consent)
        page.route("https://claude.ai/**", lambda route: route.fulfill(status=200, body="claude"))
        page.goto("http://consent.test/authorize")
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            page.locator("#password").press("Enter")
        assert page.url == "http://consent.test/authorize"
        assert any("form-action" in refusal for refusal in tab.csp_refusals()), tab.console
    finally:
        context.close()
