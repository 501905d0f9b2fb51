//! The local server: every route of every function on one loopback port. Each HTTP
//! request becomes the same `lambda_http::Request` a function receives, and goes to the
//! same handler, so what runs here is what is deployed.

pub mod cli;
pub mod stack;

use stack::gateway;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use alta_shared::Deps;
use alta_shared::http::route_path;
use alta_shared::routes::Function;
use http_body_util::{BodyExt, Full, Limited};
use hyper::StatusCode;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    deps: Arc<Deps>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let deps = deps.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let deps = deps.clone();
                async move { Ok::<_, Infallible>(dispatch(req, peer, &deps).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }
}

async fn dispatch(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    deps: &Deps,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = req.into_parts();
    // API Gateway's own limit and answers, so that the local server refuses exactly what a
    // deployed stack refuses; each handler applies its own, smaller body limit.
    let bytes = match Limited::new(body, gateway::MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return gateway::message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    // API Gateway tells functions the caller's address this way.
    if let Ok(value) = peer.ip().to_string().parse() {
        parts.headers.insert("x-forwarded-for", value);
    }
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(err) => Body::Binary(err.into_bytes()),
        }
    };
    let req = lambda_http::Request::from_parts(parts, body);
    let path = route_path(&req, &deps.config.base_url);
    match Function::for_request(req.method().as_str(), path) {
        Some(function) => into_hyper(function.handle(req, deps).await),
        None => gateway::message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn into_hyper(resp: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// What the server prints at start: where it is and how to point a client at it.
pub fn banner(deps: &Deps) -> String {
    let mcp = deps.config.base_url.mcp_resource();
    let store = match &deps.config.store {
        alta_shared::config::StoreBackend::Memory => "in-memory store".to_owned(),
        alta_shared::config::StoreBackend::DynamoDb { endpoint } => format!(
            "DynamoDB at {}",
            endpoint.as_deref().unwrap_or("the AWS regional endpoint")
        ),
    };
    format!(
        "\nAlta MCP is running ({store}).\n\n  MCP server URL: {mcp}\n  Issuer:         {issuer}\n  Connected apps: {connections}\n\n\
         Demo sign-ins (password: ALTA_DEMO_PASSWORD, default alta-demo):\n\
         \x20 demo@alta.local (Admin of Acme Corp, Member of Globex), manager@alta.local, viewer@alta.local\n\n\
         Add it to a client:\n\
         \x20 Claude Code:    claude mcp add --transport http alta {mcp}\n\
         \x20 VS Code:        code --add-mcp '{{\"name\":\"alta\",\"type\":\"http\",\"url\":\"{mcp}\"}}'\n\
         \x20 MCP Inspector:  npx @modelcontextprotocol/inspector  (Streamable HTTP, URL {mcp})\n\
         \x20 Cursor:         ~/.cursor/mcp.json: {{\"mcpServers\":{{\"alta\":{{\"url\":\"{mcp}\"}}}}}}\n",
        issuer = deps.config.base_url.issuer(),
        connections = deps.config.base_url.url("/connections"),
    )
}
