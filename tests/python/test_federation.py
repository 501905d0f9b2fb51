"""Signing in through an identity provider, over HTTP, against each server: the test
OpenID providers that scripts/test starts (tests/idp/provider.mjs, named in
ALTA_TEST_IDPS) and a person played by alta_walk.Person, one cookie jar across Alta and
the provider.

- A password sign-in cannot connect the account that requires a provider: demo@ sees
  Globex disabled, and posting it anyway is refused.
- The provider's answer (Alta's callback URL with its code and state) works once, in the
  browser that started the sign-in only, and only with the provider's own `iss`.
- The person the provider vouches for must be an Alta user, with a verified email in the
  provider's domains: otherwise 403 "No Alta user matches".
- Cancel at the provider: Alta's error page names the provider's error, and its link back
  sends the app `access_denied`.
- The connected-apps page signs in through the providers too, and its Disconnect works
  there.

The official SDK clients through the providers are in test_python_sdk.py and
tests/js/sdk_client.test.mjs; the browser walk in test_browser.py."""

from urllib.parse import urlencode

import httpx2
import pytest

from alta_walk import (
    DEMO_PASSWORD,
    GLOBEX_SSO,
    LOOPBACK_REDIRECT,
    SSO_EMAIL,
    TEST_ID,
    AccountPage,
    Authorization,
    Page,
    Person,
    get_account,
    idps,
    location,
    loopback_client,
    mcp,
    mentions,
    provider_request,
    query_of,
    token_claims,
)

pytestmark = pytest.mark.anyio

# One more account at the test providers (tests/python/idp-accounts.json, which scripts/test
# gives them): the Alta user sso@globex.example's email, not verified. It signs in by this
# sub (the email signs in as the verified account).
UNVERIFIED_SSO_LOGIN = "globex-sso-unverified-0006"


def authorization(base_url: str) -> Authorization:
    return Authorization(base_url, loopback_client(base_url), LOOPBACK_REDIRECT)


async def to_globex_sso(person: Person, auth: Authorization, email: str = SSO_EMAIL):
    """The email alone and Allow at Alta's sign-in page: Alta's redirect to Globex SSO."""
    page = await person.open_sign_in(auth.url)
    sent = await person.allow_with(page, email)
    query = provider_request(sent, idps()[GLOBEX_SSO])
    assert query["login_hint"] == email
    assert query["redirect_uri"] == auth.callback
    return sent


async def test_a_password_sign_in_cannot_connect_the_account_that_requires_a_provider(base_url):
    auth = authorization(base_url)
    async with Person() as person:
        page = await person.open_sign_in(auth.url)
        answer = Page.of(await person.allow_with(page, "demo@alta.local", DEMO_PASSWORD))
        accounts = AccountPage.of(answer)
        assert accounts.offered == ["acct_acme", "acct_globex"]
        assert accounts.disabled == ["acct_globex"]
        assert accounts.checked == "acct_acme"
        assert mentions(answer.text, "requires signing in with Globex SSO"), answer.describe()

        # A hand-made POST of the disabled choice: the page again, with no code.
        refused = await person.choose(accounts, "acct_globex")
        assert 400 <= refused.status_code < 500, f"{refused.status_code}: {refused.text[:800]}"
        assert "location" not in refused.headers
        again = Page.of(refused)
        assert again.form_with("account"), again.describe()
        assert mentions(again.text, "Globex SSO"), again.describe()

    # Acme, which requires no provider, still connects with a password.
    async with Person() as person:
        page = await person.open_sign_in(auth.url)
        accounts = AccountPage.of(Page.of(await person.allow_with(page, "demo@alta.local", DEMO_PASSWORD)))
        answer = await person.choose(accounts, "acct_acme")
        tokens = auth.exchange(auth.check_callback(location(answer)))
    assert get_account(base_url, tokens["access_token"])["id"] == "acct_acme"
    assert token_claims(tokens["access_token"])["idp"] == "password"


async def test_the_providers_answer_works_once(base_url):
    """The provider's redirect to Alta's callback, followed twice: the account page (and a
    code for the app), then a 400 page: the state is spent."""
    auth = authorization(base_url)
    async with Person() as person:
        sent = await to_globex_sso(person, auth)
        _, back = await person.sign_in_at_provider(sent, SSO_EMAIL, auth.callback)
        first = Page.of(await person.get(location(back)))
        accounts = AccountPage.of(first)
        assert sorted(accounts.enabled) == ["acct_acme", "acct_globex"]
        answer = await person.choose(accounts, "acct_globex")
        tokens = auth.exchange(auth.check_callback(location(answer)))

        second = Page.of(await person.get(location(back)))
    assert second.status == 400, second.describe()
    assert not any(c.name == "account" for f in second.forms for c in f.controls), second.describe()
    assert get_account(base_url, tokens["access_token"])["id"] == "acct_globex"
    assert token_claims(tokens["access_token"])["idp"] == GLOBEX_SSO


async def test_the_providers_answer_is_refused_in_another_browser(base_url):
    """The callback URL opened without the cookie of the browser that started the sign-in
    (a sign-in link sent to someone else, a login CSRF): 400."""
    auth = authorization(base_url)
    async with Person() as person:
        sent = await to_globex_sso(person, auth)
        _, back = await person.sign_in_at_provider(sent, SSO_EMAIL, auth.callback)
        async with Person() as other:
            stolen = Page.of(await other.get(location(back)))
    assert stolen.status == 400, stolen.describe()
    assert not any(c.name == "account" for f in stolen.forms for c in f.controls), stolen.describe()


@pytest.mark.parametrize("issuer_of", ["test-id", "elsewhere"])
async def test_a_callback_with_another_issuer_is_refused(base_url, issuer_of):
    """RFC 9207: the callback's `iss` must be the provider's issuer (here Globex SSO's),
    not another provider's nor anyone's."""
    auth = authorization(base_url)
    wrong = idps()[TEST_ID] if issuer_of == "test-id" else "https://idp.evil.example"
    async with Person() as person:
        sent = await to_globex_sso(person, auth)
        _, back = await person.sign_in_at_provider(sent, SSO_EMAIL, auth.callback)
        query = {k: v[0] for k, v in query_of(location(back)).items()}
        assert query["iss"] == idps()[GLOBEX_SSO]
        query["iss"] = wrong
        refused = Page.of(await person.get(f"{auth.callback}?{urlencode(query)}"))
    assert refused.status == 400, refused.describe()
    assert not any(c.name == "account" for f in refused.forms for c in f.controls), refused.describe()


@pytest.mark.parametrize(
    "typed, login",
    [
        # No Alta user has this email (a verified one, in Globex SSO's domain).
        ("nobody@globex.example", "nobody@globex.example"),
        # Globex SSO says the email is not verified (and no Alta user has it either).
        ("unverified@globex.example", "unverified@globex.example"),
        # The Alta user's email, which Globex SSO does not say is verified.
        (SSO_EMAIL, UNVERIFIED_SSO_LOGIN),
        # Signed in at Globex SSO as someone outside its domains (no Alta user either).
        (SSO_EMAIL, "someone@elsewhere.example"),
        # An Alta user, but outside Globex SSO's domains: it cannot vouch for alta.local.
        (SSO_EMAIL, "demo@alta.local"),
    ],
    ids=["no-alta-user", "unverified", "unverified-alta-user", "outside-domains", "alta-user-outside-domains"],
)
async def test_the_person_the_provider_vouches_for_must_match_an_alta_user(base_url, typed, login):
    auth = authorization(base_url)
    async with Person() as person:
        sent = await to_globex_sso(person, auth, typed)
        _, back = await person.sign_in_at_provider(sent, login, auth.callback)
        refused = Page.of(await person.get(location(back)))
    assert refused.status == 403, refused.describe()
    assert mentions(refused.h1 + " " + refused.text, "No Alta user matches"), refused.describe()
    assert not any(c.name == "account" for f in refused.forms for c in f.controls), refused.describe()


async def test_cancel_at_the_provider_sends_the_app_access_denied(base_url):
    """Cancel on Test ID's login screen: the provider sends `error=access_denied` to Alta's
    callback; Alta's 400 page names that error and links back to the app, which gets
    `access_denied` with its state and Alta's issuer, and no code."""
    auth = authorization(base_url)
    async with Person() as person:
        page = await person.open_sign_in(auth.url)
        sent = await person.press_provider_button(page, TEST_ID)
        provider_request(sent, idps()[TEST_ID])
        back = await person.cancel_at_provider(sent, auth.callback)
        assert query_of(location(back))["error"] == ["access_denied"]

        error = Page.of(await person.get(location(back)))
        assert error.status == 400, error.describe()
        assert "access_denied" in error.text, error.describe()
        direct = [href for href, _ in error.links if href.startswith(auth.redirect_uri + "?")]
        via_alta = [href for href, _ in error.links if href.startswith(auth.base_url)]
        if direct:
            target = direct[0]
        else:
            assert len(via_alta) == 1, f"no single link back to the app: {error.links}"
            target = location(await person.follow(await person.get(via_alta[0]), auth.redirect_uri))
    assert target.split("?", 1)[0] == auth.redirect_uri, target
    query = query_of(target)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [auth.state]
    assert query["iss"] == [base_url]
    assert "code" not in query


async def through_provider(person: Person, page: Page, how: str, login: str, callback: str) -> httpx2.Response:
    """From a page with Alta's sign-in form: `how` = "email" (the email alone, routed to
    Globex SSO) or "button" ("Sign in with Test ID"), then the provider's screens as
    `login`; returns the provider's redirect to Alta's `callback`."""
    if how == "email":
        form = page.form_with("email")
        allow = ("decision", "allow") if form.button("decision", "allow") else ("action", "sign_in")
        sent = await person.submit(form, button=allow, email=login, password="")
        query = provider_request(sent, idps()[GLOBEX_SSO])
        assert query["login_hint"] == login
    else:
        sent = await person.submit(page.form_with("email"), button=("provider", TEST_ID))
        query = provider_request(sent, idps()[TEST_ID])
    assert query["redirect_uri"] == callback
    _, back = await person.sign_in_at_provider(sent, login, callback)
    return back


@pytest.mark.parametrize(
    "how, login",
    [("email", SSO_EMAIL), ("button", "demo@alta.local")],
    ids=["globex-sso-by-email", "test-id-button"],
)
async def test_the_connected_apps_page_signs_in_through_a_provider(base_url, how, login):
    """/connections offers the same buttons and routes a Globex email to Globex SSO; after
    the provider, the person's connected apps, where Disconnect ends the app's access."""
    auth = authorization(base_url)
    async with Person() as person:
        page = await person.open_sign_in(auth.url)
        back = await through_provider(person, page, how, login, auth.callback)
        accounts = AccountPage.of(Page.of(await person.get(location(back))))
        answer = await person.choose(accounts, "acct_acme")
        token = auth.exchange(auth.check_callback(location(answer)))["access_token"]
    assert get_account(base_url, token)["id"] == "acct_acme"

    async with Person() as person:
        page = Page.of(await person.get(f"{base_url}/connections"))
        assert page.status == 200, page.describe()
        assert page.form_with("form").button("provider", TEST_ID) is not None, page.describe()
        back = await through_provider(person, page, how, login, auth.callback)
        listed = Page.of(await person.follow(await person.get(location(back))))
        assert listed.status == 200, listed.describe()
        assert listed.h1 == "Connected apps", listed.describe()
        assert mentions(listed.text, f"Signed in as {login}"), listed.describe()
        # The most recently used grant comes first: the one just made.
        disconnect = listed.form_with("grant")
        assert disconnect.action == f"{base_url}/connections", disconnect.action
        done = Page.of(await person.follow(await person.submit(disconnect, button=("action", "disconnect"))))
    assert done.status == 200, done.describe()
    assert mentions(done.text, "Disconnected Alta federation test."), done.describe()
    assert mcp(base_url, token, "tools/list").status_code == 401


async def test_the_sign_in_page_offers_only_the_button_providers(base_url):
    """"Sign in with Test ID" after Allow and Deny, formnovalidate (the email may be
    empty); Globex SSO, which has no button, is reached by its domain only."""
    auth = authorization(base_url)
    async with Person() as person:
        page = await person.open_sign_in(auth.url)
    form = page.form_with("request")
    buttons = [(b.name, b.value) for b in form.buttons()]
    assert buttons[:2] == [("decision", "allow"), ("decision", "deny")], buttons
    assert ("provider", TEST_ID) in buttons[2:]
    assert ("provider", GLOBEX_SSO) not in buttons
    test_id = form.button("provider", TEST_ID)
    assert " ".join(test_id.text.split()) == "Sign in with Test ID"
    assert "formnovalidate" in test_id.attrs
