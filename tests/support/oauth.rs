//! An OAuth client for the flow tests, doing what an MCP client does: register, PKCE,
//! the sign-in form, the redirect, the token request.

use std::sync::Arc;

use alta_shared::pkce::{CodeChallenge, CodeVerifier};
use serde_json::{Value, json};

use super::Server;
use super::client_keys::{ASSERTION_TYPE, ClientKey};

pub const REDIRECT_URI: &str = "http://127.0.0.1:45678/callback";

pub struct FlowClient {
    pub client_id: String,
    pub http: reqwest::Client,
    pub redirect_uri: String,
    /// A `private_key_jwt` client's key: each token and revocation request carries a
    /// fresh assertion signed with it.
    pub key: Option<Arc<ClientKey>>,
    /// The account to choose when the person has several; `None` takes the preselected one.
    pub account: Option<String>,
}

pub struct Authorization {
    pub code: String,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub verifier: String,
}

/// The outcome of posting the sign-in form.
pub enum SignIn {
    Redirected(url::Url),
    Page(u16, String),
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

pub fn verifier() -> String {
    alta_shared::random::token(48)
}

pub fn challenge(verifier: &str) -> String {
    CodeChallenge::from_verifier(&CodeVerifier::parse(verifier).unwrap())
        .as_str()
        .to_owned()
}

/// The account the account page preselects, if this is the account page.
pub fn preselected_account(html: &str) -> Option<String> {
    let marker = "name=\"account\" value=\"";
    html.match_indices(marker).find_map(|(at, _)| {
        let rest = &html[at + marker.len()..];
        let end = rest.find('"')?;
        rest[end..]
            .starts_with("\" checked")
            .then(|| rest[..end].to_owned())
    })
}

/// Every account the account page offers, in order.
pub fn offered_accounts(html: &str) -> Vec<String> {
    let marker = "name=\"account\" value=\"";
    html.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// The value of the hidden `request` field of the sign-in page.
/// GETs a page (following no redirect): its HTML.
pub async fn get_page(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// POSTs the consent page's form with these fields (`request` among them).
pub async fn post_authorize(
    http: &reqwest::Client,
    server: &impl Server,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    http.post(server.url("/authorize"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

pub fn pending_field(html: &str) -> String {
    hidden_field(html, "request")
}

/// The value of a page's hidden field `name` (the consent page's `request`, the
/// connections page's `form`).
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("the page has no {name} field"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

impl FlowClient {
    /// A client known by `client_id`, redirecting to [`REDIRECT_URI`], with its own browser.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            http: browser(),
            redirect_uri: REDIRECT_URI.to_owned(),
            key: None,
            account: None,
        }
    }

    pub fn choosing_account(self, account_id: &str) -> Self {
        Self {
            account: Some(account_id.to_owned()),
            ..self
        }
    }

    pub fn redirecting_to(self, redirect_uri: &str) -> Self {
        Self {
            redirect_uri: redirect_uri.to_owned(),
            ..self
        }
    }

    pub fn signing_with(self, key: Arc<ClientKey>) -> Self {
        Self {
            key: Some(key),
            ..self
        }
    }

    /// The client authentication fields of a token or revocation request.
    pub fn credentials(&self, server: &impl Server) -> Vec<(&'static str, String)> {
        let mut fields = vec![("client_id", self.client_id.clone())];
        if let Some(key) = &self.key {
            fields.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
            fields.push((
                "client_assertion",
                key.assertion(&self.client_id, &server.url("/token")),
            ));
        }
        fields
    }

    pub async fn register(server: &impl Server) -> Self {
        let http = browser();
        let resp = http
            .post(server.url("/register"))
            .json(&json!({"client_name": "Flow Test", "redirect_uris": [REDIRECT_URI],
                          "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let info: Value = resp.json().await.unwrap();
        Self {
            http,
            ..Self::new(info["client_id"].as_str().unwrap())
        }
    }

    pub fn authorize_url(
        &self,
        server: &impl Server,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut url = url::Url::parse(&server.url("/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", "st-123")
                .append_pair("scope", "campaigns:read campaigns:write inbox:read")
                .append_pair("resource", &server.url("/mcp"));
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        url.to_string()
    }

    /// GET the page, then POST the form with these fields.
    pub async fn sign_in(
        &self,
        server: &impl Server,
        url: &str,
        email: &str,
        password: &str,
        decision: &str,
    ) -> SignIn {
        let page = self.http.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200, "the sign-in page");
        let html = page.text().await.unwrap();
        self.post_form(server, &pending_field(&html), email, password, decision)
            .await
    }

    pub async fn post_form(
        &self,
        server: &impl Server,
        pending: &str,
        email: &str,
        password: &str,
        decision: &str,
    ) -> SignIn {
        let fields = [
            ("request", pending),
            ("email", email),
            ("password", password),
            ("decision", decision),
        ];
        let resp = post_authorize(&self.http, server, &fields).await;
        let answer = self.answer(resp).await;
        // A person with several accounts chooses one on a second page, as a browser would.
        if let SignIn::Page(200, html) = &answer
            && let Some(preselected) = preselected_account(html)
            && decision == "allow"
        {
            let account = self.account.clone().unwrap_or(preselected);
            return self
                .choose_account(server, &pending_field(html), &account, "allow")
                .await;
        }
        answer
    }

    /// Posts the account page's form.
    pub async fn choose_account(
        &self,
        server: &impl Server,
        pending: &str,
        account: &str,
        decision: &str,
    ) -> SignIn {
        let fields = [
            ("request", pending),
            ("account", account),
            ("decision", decision),
        ];
        let resp = post_authorize(&self.http, server, &fields).await;
        self.answer(resp).await
    }

    async fn answer(&self, resp: reqwest::Response) -> SignIn {
        let status = resp.status().as_u16();
        if status == 302 || status == 303 {
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            SignIn::Redirected(url::Url::parse(&location).unwrap())
        } else {
            SignIn::Page(status, resp.text().await.unwrap())
        }
    }

    pub async fn authorize_as(&self, server: &impl Server, email: &str) -> Authorization {
        self.authorize_with_scope(server, email, "campaigns:read campaigns:write inbox:read")
            .await
    }

    pub async fn authorize_with_scope(
        &self,
        server: &impl Server,
        email: &str,
        scope: &str,
    ) -> Authorization {
        let verifier = verifier();
        let all =
            url::form_urlencoded::byte_serialize(b"campaigns:read campaigns:write inbox:read")
                .collect::<String>();
        let wanted = url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>();
        let url = self
            .authorize_url(server, &challenge(&verifier), &[])
            .replace(&format!("scope={all}"), &format!("scope={wanted}"));
        let SignIn::Redirected(location) = self
            .sign_in(server, &url, email, super::DEMO_PASSWORD, "allow")
            .await
        else {
            panic!("sign-in did not redirect");
        };
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        Authorization {
            code: param("code").expect("a code"),
            state: param("state"),
            iss: param("iss"),
            verifier,
        }
    }

    pub async fn token(&self, server: &impl Server, form: &[(&str, &str)]) -> (u16, Value) {
        let credentials = self.credentials(server);
        let mut fields: Vec<(&str, &str)> =
            credentials.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.extend_from_slice(form);
        let resp = self
            .http
            .post(server.url("/token"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert_eq!(resp.headers()["cache-control"], "no-store");
        (status, resp.json().await.unwrap())
    }

    pub async fn exchange(&self, server: &impl Server, auth: &Authorization) -> (u16, Value) {
        self.token(
            server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &auth.code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", &auth.verifier),
            ],
        )
        .await
    }

    pub async fn refresh(&self, server: &impl Server, refresh_token: &str) -> (u16, Value) {
        self.token(
            server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    pub async fn revoke(&self, server: &impl Server, token: &str) -> u16 {
        let mut fields = self.credentials(server);
        fields.push(("token", token.to_owned()));
        self.http
            .post(server.url("/revoke"))
            .form(&fields)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A JWT's claims, read without checking its signature (the tests' own tokens).
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Signs in `email` with a fresh client and returns an access token.
pub async fn access_token(server: &impl Server, email: &str, scope: &str) -> String {
    let client = FlowClient::register(server).await;
    let auth = client.authorize_with_scope(server, email, scope).await;
    let (status, tokens) = client.exchange(server, &auth).await;
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Posts the sign-in form `n` times at once, with the emails `email(i)` and a wrong
/// password; answers each (status, page).
pub async fn parallel_wrong_sign_ins(
    server: &impl Server,
    n: usize,
    email: impl Fn(usize) -> String,
) -> Vec<(u16, String)> {
    let client = FlowClient::register(server).await;
    let url = client.authorize_url(server, &challenge(&verifier()), &[]);
    let pending = pending_field(&get_page(&client.http, &url).await);
    let attempts: Vec<_> = (0..n)
        .map(|i| {
            let (http, url, pending, email) = (
                client.http.clone(),
                server.url("/authorize"),
                pending.clone(),
                email(i),
            );
            tokio::spawn(async move {
                let form = [
                    ("request", pending.as_str()),
                    ("email", email.as_str()),
                    ("password", "wrong password"),
                    ("decision", "allow"),
                ];
                let resp = http.post(url).form(&form).send().await.unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap());
    }
    answers
}
