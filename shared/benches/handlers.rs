//! In-process benchmarks of the hot paths: JWT verification, PKCE verification, the token
//! handler and the whole mcp handler for `tools/call list_campaigns`, on the in-memory
//! store. Run with `cargo bench -p alta-shared` (scripts/bench runs everything).

use std::sync::Arc;

use alta_shared::clock::{Clock, SystemClock};
use alta_shared::demo;
use alta_shared::jwks::VerificationKeys;
use alta_shared::jwt::{AccessTokenClaims, sign_access_token, verify_access_token};
use alta_shared::pkce::{CodeChallenge, CodeVerifier};
use alta_shared::records::grant::{AuthorizationCodeRecord, TokenHash};
use alta_shared::scope::ScopeSet;
use alta_shared::{Config, Deps};
use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::{Body, Request};

const BASE: &str = "https://mcp.alta.example";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn deps(rt: &tokio::runtime::Runtime) -> Arc<Deps> {
    let config = Config::from_lookup(|_| None, Some(BASE)).unwrap();
    let deps = Deps::in_memory(config, Arc::new(SystemClock)).unwrap();
    rt.block_on(async {
        demo::seed_directory(deps.directory.as_ref(), "alta-demo", SystemClock.now())
            .await
            .unwrap();
        demo::seed_alta_data(deps.alta.as_ref(), SystemClock.now())
            .await
            .unwrap();
    });
    Arc::new(deps)
}

fn access_token(rt: &tokio::runtime::Runtime, deps: &Deps) -> String {
    let keys = rt.block_on(deps.signing_keys.current()).unwrap();
    let now = SystemClock.now();
    sign_access_token(
        keys.newest_key(),
        &AccessTokenClaims {
            iss: BASE.into(),
            sub: demo::DEMO_USER.into(),
            aud: format!("{BASE}/mcp"),
            exp: now + 3600,
            iat: now,
            jti: "bench".into(),
            client_id: "claude".into(),
            scope: "campaigns:read campaigns:write inbox:read".into(),
            grant_id: Some("bench-grant".into()),
            account_id: None,
            idp: Some("password".into()),
        },
    )
    .unwrap()
}

fn jwt_verification(c: &mut Criterion) {
    let rt = runtime();
    let deps = deps(&rt);
    let token = access_token(&rt, &deps);
    let keys = rt.block_on(deps.signing_keys.current()).unwrap();
    let verification = VerificationKeys::from(&keys.jwks());
    let audience = format!("{BASE}/mcp");
    c.bench_function("jwt_verify_es256", |b| {
        b.iter(|| {
            verify_access_token(std::hint::black_box(&token), &verification, BASE, &audience)
                .unwrap()
        })
    });
}

fn pkce_verification(c: &mut Criterion) {
    let challenge = CodeChallenge::parse(CHALLENGE).unwrap();
    c.bench_function("pkce_verify_s256", |b| {
        b.iter(|| {
            let verifier = CodeVerifier::parse(std::hint::black_box(VERIFIER)).unwrap();
            assert!(challenge.is_satisfied_by(&verifier));
        })
    });
}

fn token_handler(c: &mut Criterion) {
    let rt = runtime();
    let deps = deps(&rt);
    let redirect = "https://claude.ai/api/mcp/auth_callback";
    let mut n = 0u64;
    c.bench_function("token_handler_authorization_code", |b| {
        b.iter_batched(
            || {
                // A fresh code per iteration: each can be redeemed once.
                n += 1;
                let code = format!("bench-code-{n}");
                let now = SystemClock.now();
                rt.block_on(deps.codes.put_code(&AuthorizationCodeRecord {
                    code_hash: TokenHash::of(&code),
                    client_id: "claude".into(),
                    redirect_uri: redirect.into(),
                    code_challenge: CodeChallenge::parse(CHALLENGE).unwrap(),
                    user_id: demo::DEMO_USER.into(),
                    scope: ScopeSet::parse("campaigns:read").unwrap(),
                    resource: format!("{BASE}/mcp"),
                    account_id: demo::ACME.into(),
                    family_id: format!("family-{n}").into(),
                    idp: "password".into(),
                    created_at: now,
                    expires_at: now + 60,
                }))
                .unwrap();
                let body = format!(
                    "grant_type=authorization_code&client_id=claude&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
                    url_encode(redirect)
                );
                http::Request::builder()
                    .method("POST")
                    .uri(format!("{BASE}/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::Text(body))
                    .unwrap()
            },
            |req: Request| {
                let resp = rt.block_on(alta_shared::oauth::token::handle(req, &deps));
                assert_eq!(resp.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

fn url_encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

fn mcp_list_campaigns(c: &mut Criterion) {
    let rt = runtime();
    let deps = deps(&rt);
    let token = access_token(&rt, &deps);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_campaigns","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let request = || {
        http::Request::builder()
            .method("POST")
            .uri(format!("{BASE}/mcp"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "list_campaigns")
            .body(Body::Text(body.into()))
            .unwrap()
    };
    c.bench_function("mcp_tools_call_list_campaigns", |b| {
        b.iter_batched(
            request,
            |req: Request| {
                let resp = rt.block_on(alta_shared::mcp::handle(req, &deps));
                assert_eq!(resp.status(), 200);
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(
    benches,
    jwt_verification,
    pkce_verification,
    token_handler,
    mcp_list_campaigns
);
criterion_main!(benches);
