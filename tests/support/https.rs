//! A loopback https server with a CA made for the test, serving fixed documents: the
//! other end of a Client ID Metadata Document fetch.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone)]
pub struct Document {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Document {
    /// A JSON document, cacheable for ten minutes.
    pub fn json(body: &serde_json::Value) -> Self {
        Self {
            status: 200,
            headers: vec![("cache-control", "max-age=600".to_owned())],
            body: body.to_string(),
        }
    }
}

pub struct MetadataServer {
    /// `https://localhost:<port>`
    pub origin: String,
    pub ca_pem: String,
    hits: Arc<AtomicUsize>,
    documents: Arc<RwLock<HashMap<String, Document>>>,
}

impl MetadataServer {
    /// `documents` gets the server's origin, since a metadata document names its own URL.
    pub async fn start(documents: impl FnOnce(&str) -> HashMap<String, Document>) -> Self {
        Self::start_answering_after(documents, std::time::Duration::ZERO).await
    }

    /// A server that waits `delay` before each answer: a slow client host.
    pub async fn start_answering_after(
        documents: impl FnOnce(&str) -> HashMap<String, Document>,
        delay: std::time::Duration,
    ) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();

        let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("https://localhost:{port}");
        let hits = Arc::new(AtomicUsize::new(0));
        let documents = Arc::new(RwLock::new(documents(&origin)));
        let served = hits.clone();
        let serving = documents.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, documents, served) =
                    (acceptor.clone(), documents.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        served.fetch_add(1, Ordering::SeqCst);
                        let doc = documents.read().unwrap().get(req.uri().path()).cloned();
                        async move {
                            tokio::time::sleep(delay).await;
                            let mut builder = hyper::Response::builder();
                            let resp = match doc {
                                Some(doc) => {
                                    builder = builder
                                        .status(doc.status)
                                        .header("content-type", "application/json");
                                    for (k, v) in doc.headers {
                                        builder = builder.header(k, v);
                                    }
                                    builder.body(Full::new(Bytes::from(doc.body))).unwrap()
                                }
                                None => builder.status(404).body(Full::new(Bytes::new())).unwrap(),
                            };
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            origin,
            ca_pem: ca_cert.pem(),
            hits,
            documents: serving,
        }
    }

    /// Serves `doc` at `path` from now on (a client that changed its document or keys).
    pub fn serve(&self, path: &str, doc: Document) {
        self.documents.write().unwrap().insert(path.to_owned(), doc);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
