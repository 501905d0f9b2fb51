//! Alta's sign-in and consent page, and the error page shown where redirecting would be
//! unsafe. Every value is HTML-escaped; the pages run no script at all.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};

use crate::scope::{Scope, ScopeSet};

pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:420px;margin:48px auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:32px}\
h1{font-size:20px;margin:0 0 8px}p{line-height:1.5}.muted{color:#5b6475;font-size:14px}\
ul{padding-left:20px}label{display:block;font-size:14px;margin:16px 0 4px}\
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #c9ced8;border-radius:8px;font-size:16px}\
.actions{display:flex;flex-direction:row-reverse;gap:12px;margin-top:24px}button{flex:1;padding:10px;border-radius:8px;font-size:16px;cursor:pointer;border:1px solid #c9ced8;background:#fff}\
button.primary{background:#3b5bdb;color:#fff;border-color:#3b5bdb}.error{background:#fff0f0;border:1px solid #f0b4b4;color:#8a1c1c;padding:10px;border-radius:8px}\
.brand{font-weight:700;color:#3b5bdb;letter-spacing:.5px;margin-bottom:16px}\
fieldset{border:0;padding:0;margin:16px 0 0}legend{font-size:14px}.choice{display:block;font-size:16px;margin:8px 0}\
.connection{border-top:1px solid #e3e6ec;padding-top:8px}h2{font-size:16px;margin:8px 0 0}\
.notice{background:#eef6ee;border:1px solid #b4d8b4;color:#1c5a1c;padding:10px;border-radius:8px}\
.providers{margin-top:16px;display:flex;flex-direction:column;gap:8px}.providers p{margin:0;text-align:center}\
.choice.disabled{color:#5b6475}";

fn page(status: StatusCode, title: &str, body: &str, form_action: Option<&str>) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Alta</title><style>{STYLE}</style></head>\
         <body><main><div class=\"brand\">ALTA</div>{body}</main></body></html>",
        title = escape(title)
    );
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = status;
    // No script, no framing (clickjacking of the Allow button), no referrer carrying the
    // authorization request; `form-action` must name where the redirect after the POST goes.
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'{}",
        form_action.map(|a| format!(" {a}")).unwrap_or_default()
    );
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        h.insert("content-security-policy", value);
    }
    resp
}

/// An error that must not be sent to the client's redirect URI (unknown client, bad
/// redirect URI, a forged form): the person reads it here.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p class=\"muted\">Return to the app you came from and connect to Alta again.</p>",
        escape(title),
        escape(message)
    );
    page(status, title, &body, None)
}

/// An error of a sign-in through an identity provider, with a way back: to the app (which
/// then hears `access_denied`) or to the page the sign-in started from.
pub fn error_page_with_way_back(
    status: StatusCode,
    title: &str,
    message: &str,
    back: (&str, &str),
) -> Response<Body> {
    let (label, href) = back;
    let body = format!(
        "<h1>{}</h1><p role=\"alert\">{}</p><p><a href=\"{}\">{}</a></p>",
        escape(title),
        escape(message),
        escape(href),
        escape(label)
    );
    page(status, title, &body, None)
}

/// A "Sign in with …" button: posts the page's form with `provider=<id>`.
pub struct ProviderButton<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// After the form's own buttons, so that Enter still means the first one (Allow).
fn provider_buttons(buttons: &[ProviderButton<'_>]) -> String {
    if buttons.is_empty() {
        return String::new();
    }
    let list: String = buttons
        .iter()
        .map(|b| {
            format!(
                "<button type=\"submit\" name=\"provider\" value=\"{}\" formnovalidate>Sign in with {}</button>",
                escape(b.id),
                escape(b.name)
            )
        })
        .collect();
    format!("<div class=\"providers\"><p class=\"muted\">or</p>{list}</div>")
}

/// What a person sees who opens the server's URL in a browser (`service_documentation`
/// and `resource_documentation` point here): what it is and how to add it to a client.
pub fn service_page(mcp_url: &str) -> Response<Body> {
    let url = escape(mcp_url);
    let body = format!(
        "<h1>Alta MCP server</h1>\
         <p>This is Alta's <a href=\"https://modelcontextprotocol.io\">Model Context Protocol</a> server. \
         Add this URL to your AI assistant to work with your Alta campaigns and inboxes:</p>\
         <p><code>{url}</code></p>\
         <ul>\
         <li><b>Claude</b>: Settings → Connectors → Add custom connector, and paste the URL.</li>\
         <li><b>Claude Code</b>: <code>claude mcp add --transport http alta {url}</code></li>\
         <li><b>Cursor</b>: in <code>~/.cursor/mcp.json</code>, <code>{{\"mcpServers\":{{\"alta\":{{\"url\":\"{url}\"}}}}}}</code></li>\
         <li><b>VS Code</b>: <code>code --add-mcp '{{\"name\":\"alta\",\"type\":\"http\",\"url\":\"{url}\"}}'</code></li>\
         <li><b>ChatGPT</b> (developer mode): Settings → Apps &amp; Connectors → Create, paste the URL, authentication OAuth.</li>\
         </ul>\
         <p class=\"muted\">The app then sends you to Alta to sign in. You see what it asks to do \
         (read campaigns, pause and resume them, read the inboxes your role allows) and choose \
         whether to allow it. Each action is checked against your role, as in the Alta web app.</p>\
         <p class=\"muted\"><a href=\"connections\">Connected apps</a>: see the apps connected to \
         your Alta accounts, and disconnect any of them.</p>"
    );
    page(StatusCode::OK, "Alta MCP server", &body, None)
}

pub struct SignInPage<'a> {
    pub client_name: &'a str,
    /// A metadata-document client's host (its `client_id`'s), shown beside the name.
    pub client_host: Option<&'a str>,
    pub redirect_host: &'a str,
    pub scopes: &'a ScopeSet,
    /// The signed pending request, carried in a hidden field.
    pub pending: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// Identity providers offered to everyone.
    pub providers: &'a [ProviderButton<'a>],
    /// Where the form posts: `<BASE>/authorize`, absolute, since the page is also shown
    /// at other paths (`/authorize/callback`).
    pub action: &'a str,
    /// The CSP `form-action` sources besides 'self': where the redirect after the POST
    /// may go (the app's origin or scheme, the identity providers' authorization endpoints).
    pub form_action: &'a str,
}

/// The scopes, in plain words, as list items.
fn scope_items(scopes: &ScopeSet) -> String {
    scopes
        .iter()
        .map(|s: Scope| format!("<li>{}</li>", escape(s.description())))
        .collect()
}

/// The client's name as the pages show it: escaped, and followed by the host it comes
/// from when its name is self-chosen in a metadata document.
fn client_label(name: &str, host: Option<&str>) -> String {
    match host {
        Some(host) => format!(
            "<strong>{}</strong> <span class=\"muted\">(from {})</span>",
            escape(name),
            escape(host)
        ),
        None => format!("<strong>{}</strong>", escape(name)),
    }
}

/// A form's error, announced to screen readers; nothing without one.
fn error_notice(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default()
}

pub fn sign_in_page(status: StatusCode, p: &SignInPage<'_>) -> Response<Body> {
    let scopes = scope_items(p.scopes);
    let error = error_notice(p.error);
    let body = format!(
        "<h1>Sign in to connect {client}</h1>\
         <p>{label} wants to use your Alta account to:</p><ul>{scopes}</ul>\
         <p class=\"muted\">After you choose, you will be sent back to <strong>{host}</strong>.</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{pending}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" value=\"{email}\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <div class=\"actions\">\
         <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button>\
         </div>{providers}</form>",
        client = escape(p.client_name),
        label = client_label(p.client_name, p.client_host),
        host = escape(p.redirect_host),
        pending = escape(p.pending),
        email = escape(p.email),
        providers = provider_buttons(p.providers),
        action = escape(p.action),
    );
    page(status, "Sign in", &body, Some(p.form_action))
}

/// One account on the account page.
pub struct AccountChoice<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: String,
    /// The identity provider this account requires, when this sign-in was not through it:
    /// shown, not choosable.
    pub requires: Option<&'a str>,
}

pub struct AccountPage<'a> {
    pub client_name: &'a str,
    pub client_host: Option<&'a str>,
    pub redirect_host: &'a str,
    pub scopes: &'a ScopeSet,
    /// The signed pending request, now naming who signed in.
    pub pending: &'a str,
    pub email: &'a str,
    /// Oldest membership first: the first is preselected.
    pub accounts: &'a [AccountChoice<'a>],
    pub error: Option<&'a str>,
    /// The providers the disabled accounts require: signing in there enables them.
    pub providers: &'a [ProviderButton<'a>],
    /// Where the form posts (`<BASE>/authorize`).
    pub action: &'a str,
    pub form_action: &'a str,
}

/// After sign-in, for a person with several accounts: which one the app will act in.
pub fn account_page(status: StatusCode, p: &AccountPage<'_>) -> Response<Body> {
    let scopes = scope_items(p.scopes);
    let preselected = p.accounts.iter().position(|a| a.requires.is_none());
    let accounts: String = p
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| match a.requires {
            None => format!(
                "<label class=\"choice\"><input type=\"radio\" name=\"account\" value=\"{id}\"{checked}> \
                 <strong>{name}</strong> <span class=\"muted\">{role}</span></label>",
                id = escape(a.id),
                name = escape(a.name),
                role = escape(&a.role),
                checked = if Some(i) == preselected { " checked" } else { "" },
            ),
            Some(provider) => format!(
                "<label class=\"choice disabled\"><input type=\"radio\" name=\"account\" value=\"{id}\" disabled> \
                 <strong>{name}</strong> <span class=\"muted\">{role} · requires signing in with {provider}</span></label>",
                id = escape(a.id),
                name = escape(a.name),
                role = escape(&a.role),
                provider = escape(provider),
            ),
        })
        .collect();
    let allow = if preselected.is_some() {
        ""
    } else {
        " disabled"
    };
    let error = error_notice(p.error);
    let body = format!(
        "<h1>Connect {client} to which account?</h1>\
         <p class=\"muted\">Signed in as {email}.</p>\
         <p>{label} will act in the account you choose, with your role there, to:</p><ul>{scopes}</ul>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"request\" value=\"{pending}\">\
         <fieldset><legend>Account</legend>{accounts}</fieldset>\
         <p class=\"muted\">To use another account later, disconnect the app and connect again. \
         After you choose, you will be sent back to <strong>{host}</strong>.</p>\
         <div class=\"actions\">\
         <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"allow\"{allow}>Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         </div>{providers}</form>",
        client = escape(p.client_name),
        label = client_label(p.client_name, p.client_host),
        email = escape(p.email),
        host = escape(p.redirect_host),
        pending = escape(p.pending),
        providers = provider_buttons(p.providers),
        action = escape(p.action),
    );
    page(status, "Choose an account", &body, Some(p.form_action))
}

/// The connections page's sign-in form.
pub fn connections_sign_in_page(
    status: StatusCode,
    form: &str,
    email: &str,
    error: Option<&str>,
    providers: &[ProviderButton<'_>],
    form_action: &str,
    action: &str,
) -> Response<Body> {
    let error = error_notice(error);
    let body = format!(
        "<h1>Connected apps</h1>\
         <p>Sign in to see the apps connected to your Alta accounts, and disconnect any of them.</p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"form\" value=\"{form}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" value=\"{email}\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <div class=\"actions\">\
         <button class=\"primary\" type=\"submit\" name=\"action\" value=\"sign_in\">Sign in</button>\
         </div>{providers}</form>",
        form = escape(form),
        email = escape(email),
        providers = provider_buttons(providers),
        action = escape(action),
    );
    page(
        status,
        "Connected apps",
        &body,
        (!form_action.is_empty()).then_some(form_action),
    )
}

/// One grant on the connections page.
pub struct ConnectionRow<'a> {
    pub grant_id: &'a str,
    pub app: &'a str,
    pub redirect_host: &'a str,
    /// The identity provider that made the grant (enterprise-managed), if one did.
    pub managed_by: Option<&'a str>,
    pub scopes: Vec<&'static str>,
    pub account: &'a str,
    /// Dates, already formatted (UTC).
    pub connected: String,
    pub last_used: String,
}

/// The person's connected apps, each with a Disconnect button.
pub fn connections_page(
    email: &str,
    form: &str,
    rows: &[ConnectionRow<'_>],
    notice: Option<&str>,
    action: &str,
) -> Response<Body> {
    let notice = notice
        .map(|n| format!("<p class=\"notice\" role=\"status\">{}</p>", escape(n)))
        .unwrap_or_default();
    let list = if rows.is_empty() {
        "<p class=\"muted\">No apps are connected to your Alta accounts.</p>".to_owned()
    } else {
        rows.iter()
            .map(|r| {
                format!(
                    "<section class=\"connection\"><h2>{app}</h2>\
                     <p class=\"muted\">{origin} · Account: {account}</p>\
                     <p class=\"muted\">Can: {scopes}</p>\
                     <p class=\"muted\">Connected {connected} · Last used {last_used}</p>\
                     <form method=\"post\" action=\"{action}\">\
                     <input type=\"hidden\" name=\"form\" value=\"{form}\">\
                     <input type=\"hidden\" name=\"grant\" value=\"{grant}\">\
                     <button type=\"submit\" name=\"action\" value=\"disconnect\">Disconnect</button>\
                     </form></section>",
                    app = escape(r.app),
                    origin = match r.managed_by {
                        Some(provider) => format!("Managed by {}", escape(provider)),
                        None => format!("Sends you back to {}", escape(r.redirect_host)),
                    },
                    account = escape(r.account),
                    scopes = escape(&r.scopes.join(", ")),
                    connected = escape(&r.connected),
                    last_used = escape(&r.last_used),
                    action = escape(action),
                    form = escape(form),
                    grant = escape(r.grant_id),
                )
            })
            .collect()
    };
    let body = format!(
        "<h1>Connected apps</h1><p class=\"muted\">Signed in as {email}.</p>{notice}{list}\
         <p class=\"muted\">Disconnecting an app ends its access at once: its next request \
         is refused, and it asks you to connect again.</p>",
        email = escape(email),
    );
    page(StatusCode::OK, "Connected apps", &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(escape("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
    }

    #[test]
    fn sign_in_page_escapes_the_client_name_and_forbids_framing() {
        let resp = sign_in_page(
            StatusCode::OK,
            &SignInPage {
                client_name: "<img src=x onerror=alert(1)>",
                client_host: None,
                redirect_host: "evil.example",
                scopes: &ScopeSet::all(),
                pending: "abc",
                email: "",
                error: None,
                providers: &[],
                action: "https://mcp.alta.example/authorize",
                form_action: "https://evil.example",
            },
        );
        let html = std::str::from_utf8(resp.body().as_ref()).unwrap();
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;img src=x"));
        assert!(html.contains("Pause and resume your campaigns"));
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("form-action 'self' https://evil.example"));
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    }

    fn html(resp: &Response<Body>) -> &str {
        std::str::from_utf8(resp.body().as_ref()).unwrap()
    }

    /// Enter in a form submits its first submit button (HTML's implicit submission):
    /// that must be Allow, never Deny.
    fn first_submit_value(html: &str) -> &str {
        let button = html.find("<button").expect("a button");
        let value = html[button..].find("value=\"").expect("a value") + button + 7;
        let end = html[value..].find('"').unwrap() + value;
        &html[value..end]
    }

    fn sign_in(client_host: Option<&str>) -> Response<Body> {
        sign_in_page(
            StatusCode::OK,
            &SignInPage {
                client_name: "Claude",
                client_host,
                redirect_host: "claude.ai",
                scopes: &ScopeSet::all(),
                pending: "abc",
                email: "",
                error: None,
                providers: &[ProviderButton {
                    id: "okta",
                    name: "Okta <SSO>",
                }],
                action: "https://mcp.alta.example/authorize",
                form_action: "https://claude.ai",
            },
        )
    }

    #[test]
    fn enter_on_the_sign_in_and_account_pages_means_allow() {
        assert_eq!(first_submit_value(html(&sign_in(None))), "allow");
        let accounts = [
            AccountChoice {
                id: "acc_0",
                name: "Globex",
                role: "Member".into(),
                requires: Some("Globex SSO"),
            },
            AccountChoice {
                id: "acc_1",
                name: "Acme",
                role: "Admin".into(),
                requires: None,
            },
        ];
        let page = account_page(
            StatusCode::OK,
            &AccountPage {
                client_name: "Claude",
                client_host: None,
                redirect_host: "claude.ai",
                scopes: &ScopeSet::all(),
                pending: "abc",
                email: "demo@alta.local",
                accounts: &accounts,
                error: None,
                providers: &[],
                action: "https://mcp.alta.example/authorize",
                form_action: "https://claude.ai",
            },
        );
        assert_eq!(first_submit_value(html(&page)), "allow");
        let html = html(&page);
        assert!(
            html.contains("value=\"acc_0\" disabled> <strong>Globex</strong>"),
            "{html}"
        );
        assert!(html.contains("requires signing in with Globex SSO"));
        assert!(
            html.contains("value=\"acc_1\" checked>"),
            "the first choosable is preselected"
        );
    }

    #[test]
    fn provider_buttons_follow_allow_and_are_escaped() {
        let page = sign_in(None);
        let html = html(&page);
        assert_eq!(first_submit_value(html), "allow");
        assert!(html.contains(
            "<button type=\"submit\" name=\"provider\" value=\"okta\" formnovalidate>Sign in with Okta &lt;SSO&gt;</button>"
        ));
        assert!(html.find("value=\"deny\"").unwrap() < html.find("name=\"provider\"").unwrap());
    }

    #[test]
    fn a_metadata_document_clients_host_is_named_beside_its_name() {
        let page = sign_in(Some("evil.example"));
        assert!(
            html(&page).contains(
                "<strong>Claude</strong> <span class=\"muted\">(from evil.example)</span>"
            ),
            "{}",
            html(&page)
        );
        assert!(!html(&sign_in(None)).contains("(from "));
    }
}
