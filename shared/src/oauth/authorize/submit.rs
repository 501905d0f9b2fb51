//! `POST /authorize`: the signed form read back, the person signed in (or sent to their
//! identity provider), the account chosen, the decision spent once, and a code (or a
//! denial) sent back to the client.

use super::*;

pub(super) async fn submit(req: &Request, deps: &Deps) -> Response<Body> {
    let audience = pending::audience(&deps.config.base_url);
    let cookie = nonce_cookie(deps);
    let posted =
        signed_form::read_posted::<PendingAuthorization>(req, deps, "request", &audience, &cookie);
    let Posted {
        params,
        field,
        keys,
        claims: pending,
    } = match posted.await {
        Ok(posted) => posted,
        Err(Unread::Malformed(e)) => {
            return error_page(StatusCode::BAD_REQUEST, "Invalid form", &e.to_string());
        }
        Err(Unread::Unavailable(err)) => return unavailable(err),
        Err(Unread::Invalid) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired",
                "The sign-in form was too old, was opened in another browser, or was not issued by Alta. Start again from the app.",
            );
        }
    };
    let client = match pending_client(req, deps, &pending.request).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let to_client = ClientRedirect {
        redirect_uri: pending.request.redirect_uri.clone(),
        state: pending.request.state.clone(),
        issuer: deps.config.base_url.issuer().to_owned(),
    };
    let offer = upstream::offer(deps).await;
    let retry = |status: StatusCode, email: &str, message: &str| {
        render_with_field(
            deps,
            &client,
            &pending,
            &field,
            Some((status, email, message)),
            false,
            &offer,
        )
    };
    let upstream_for = |after_request: &AuthorizationRequest| AfterSignIn::Consent {
        request: after_request.clone(),
    };

    // "Sign in with …": to the provider, from the sign-in page or the account page.
    if let Some(id) = params.single("provider").ok().flatten() {
        let Some(provider) = offer.providers.iter().find(|p| p.id == id) else {
            return retry(
                StatusCode::BAD_REQUEST,
                "",
                "That identity provider is not set up. Sign in another way.",
            );
        };
        let after = upstream_for(&pending.request);
        return upstream::start(deps, provider, &pending.nonce, after, None).await;
    }

    // A form ends in one answer: a second POST of it (a replay with the same cookie, or a
    // double click) must not yield a second code.
    let used_up = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in page was already used",
            "Start again from the app.",
        )
    };
    let use_form = || async {
        let key = format!("form#{}", sha256_hex(pending.nonce.as_bytes()));
        deps.revocations
            .use_once(&key, pending.exp, deps.clock.now())
            .await
    };

    match params.single("decision").ok().flatten() {
        Some("deny") => {
            match use_form().await {
                Ok(true) => {}
                Ok(false) => return used_up(),
                Err(err) => return unavailable(err),
            }
            tracing::info!(client_id = %client.client_id, "authorization denied by the person");
            return to_client.error(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the person declined to connect this app",
            ));
        }
        Some("allow") => {}
        _ => return retry(StatusCode::BAD_REQUEST, "", "Choose Allow or Deny."),
    }

    // The person: signed in on this form already (the account page), or now.
    let signed_in = match &pending.signed_in {
        Some(signed_in) => signed_in.clone(),
        None => {
            let email = normalize_email(params.single("email").ok().flatten().unwrap_or_default());
            // Their company's provider signs them in; no password is looked at.
            if let Some(provider) = offer.providers.iter().find(|p| p.claims_email(&email)) {
                let after = upstream_for(&pending.request);
                return upstream::start(deps, provider, &pending.nonce, after, Some(&email)).await;
            }
            let password = params
                .single("password")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned();
            match sign_in(req, deps, &email, password).await {
                Ok(user) => SignedIn {
                    user_id: UserId::new(user.user_id),
                    email: user.email,
                    idp: PASSWORD_IDP.to_owned(),
                },
                Err(Refusal::Retry(status, message)) => {
                    tracing::info!(client_id = %client.client_id, "sign-in refused");
                    return retry(status, &email, message);
                }
                Err(Refusal::Unavailable(err)) => return unavailable(err),
            }
        }
    };
    let accounts = match accessible_accounts(deps, &signed_in.user_id).await {
        Ok(accounts) => accounts,
        Err(err) => return unavailable(err),
    };
    if accounts.is_empty() {
        return no_account(&signed_in.email);
    }
    // A password sign-in with one account it may connect needs no second page; a
    // sign-in through a provider always consents on the account page.
    let asked = params.single("account").ok().flatten();
    let chosen = match asked {
        Some(id) => accounts.iter().find(|(m, _)| m.account_id == id),
        None if accounts.len() == 1 && pending.signed_in.is_none() => accounts.first(),
        None => None,
    };
    let refusal = match chosen {
        None => asked.map(|_| "Choose one of your accounts.".to_owned()),
        Some((_, account)) if !account.accepts_idp(&signed_in.idp) => Some(format!(
            "{} requires signing in with {}.",
            account.name,
            offer.display_name(account.required_idp.as_deref().unwrap_or_default())
        )),
        Some(_) => None,
    };
    let account = match chosen {
        Some((_, account)) if refusal.is_none() => account,
        _ => {
            if refusal.is_some() {
                tracing::info!(client_id = %client.client_id, idp = %signed_in.idp, "account choice refused");
            }
            let signed_in_pending = PendingAuthorization {
                signed_in: Some(signed_in),
                ..pending.clone()
            };
            let action = deps.config.base_url.url("/authorize");
            return render_account_choice(
                &keys,
                &client,
                &signed_in_pending,
                &accounts,
                refusal.as_deref(),
                (&offer, &action),
            );
        }
    };

    match use_form().await {
        Ok(true) => {}
        Ok(false) => return used_up(),
        Err(err) => return unavailable(err),
    }
    match grant_code(deps, &client, &pending, &signed_in, &account.account_id).await {
        Ok(code) => {
            tracing::info!(client_id = %client.client_id, user_id = %signed_in.user_id, account_id = %account.account_id, scope = %pending.request.scope, idp = %signed_in.idp, "authorization granted");
            let mut resp = to_client.code(&code);
            if let Some(value) = nonce_cookie(deps).set("", 0) {
                resp.headers_mut().append("set-cookie", value);
            }
            resp
        }
        Err(err) => to_client.error(err),
    }
}

/// The second page for a person with several accounts: which one the app acts in.
pub(super) fn render_account_choice(
    keys: &FormKey,
    client: &Client,
    pending: &PendingAuthorization,
    accounts: &[(Membership, Account)],
    error: Option<&str>,
    (offer, action): (&Offer, &str),
) -> Response<Body> {
    let field = match pending::sign(keys, pending) {
        Ok(field) => field,
        Err(err) => return unavailable(err),
    };
    let idp = pending
        .signed_in
        .as_ref()
        .map_or(PASSWORD_IDP, |s| s.idp.as_str());
    let required = |account| required_idp(account, idp);
    let choices: Vec<AccountChoice<'_>> = accounts
        .iter()
        .map(|(membership, account)| AccountChoice {
            id: &account.account_id,
            name: &account.name,
            role: membership.role.to_string(),
            requires: required(account).map(|id| offer.display_name(id)),
        })
        .collect();
    // The providers that would make the refused accounts choosable.
    let mut needed: Vec<&str> = accounts.iter().filter_map(|(_, a)| required(a)).collect();
    needed.sort_unstable();
    needed.dedup();
    let buttons: Vec<ProviderButton<'_>> = needed
        .into_iter()
        .filter(|id| offer.providers.iter().any(|p| p.id == *id))
        .map(|id| ProviderButton {
            id,
            name: offer.display_name(id),
        })
        .collect();
    let host = client
        .redirect_uri_matching(&pending.request.redirect_uri)
        .map(|u| u.display_host())
        .unwrap_or_default();
    let email = pending
        .signed_in
        .as_ref()
        .map(|s| s.email.as_str())
        .unwrap_or_default();
    let document_host = client.document_host();
    account_page(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &AccountPage {
            client_name: client.display_name(),
            client_host: document_host.as_deref(),
            redirect_host: &host,
            scopes: &pending.request.scope,
            pending: &field,
            email,
            accounts: &choices,
            error,
            providers: &buttons,
            action,
            form_action: &offer.form_action(Some(&redirect_origin(&pending.request.redirect_uri))),
        },
    )
}

/// The provider `account` requires, if a sign-in through `idp` is not enough for it.
fn required_idp<'a>(account: &'a Account, idp: &str) -> Option<&'a str> {
    account
        .required_idp
        .as_deref()
        .filter(|_| !account.accepts_idp(idp))
}

/// Stores a new code for the chosen account. The grant it starts is recorded when the
/// code is redeemed (the token endpoint), so a consent whose code is never redeemed ends
/// nothing.
pub(super) async fn grant_code(
    deps: &Deps,
    client: &Client,
    pending: &PendingAuthorization,
    signed_in: &SignedIn,
    account_id: &str,
) -> Result<SecretString, OAuthError> {
    let now = deps.clock.now();
    let code = random::secret(CODE_BYTES);
    deps.codes
        .put_code(&AuthorizationCodeRecord {
            code_hash: TokenHash::of(code.secret()),
            client_id: client.client_id.clone(),
            redirect_uri: if pending.request.redirect_uri_sent {
                pending.request.redirect_uri.clone()
            } else {
                String::new()
            },
            code_challenge: pending.request.code_challenge.clone(),
            user_id: signed_in.user_id.clone(),
            scope: pending.request.scope.clone(),
            resource: pending.request.resource.clone(),
            account_id: account_id.to_owned(),
            family_id: FamilyId::new(random::token(16)),
            idp: signed_in.idp.clone(),
            created_at: now,
            expires_at: now + CODE_LIFETIME_SECONDS,
        })
        .await?;
    Ok(code)
}
