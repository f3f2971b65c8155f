//! The three calls an election makes (GET, POST and PUT of one Lease), straight to the
//! API server over hyper with rustls (ring), bearer token re-read for every request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;

use crate::record::Lease;
use crate::{Error, LeaseConfig};

/// Why a call did not return a Lease.
#[derive(Debug)]
pub(crate) enum CallError {
    /// 404.
    NotFound,
    /// 409: `AlreadyExists` on create, `Conflict` on a stale `resourceVersion`.
    Conflict(String),
    /// Any other answer, or none.
    Other(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotFound => f.write_str("not found"),
            CallError::Conflict(m) => write!(f, "conflict: {m}"),
            CallError::Other(m) => f.write_str(m),
        }
    }
}

pub(crate) struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `{api}/apis/coordination.k8s.io/v1/namespaces/{ns}/leases`.
    collection: String,
    name: String,
    token_file: Option<PathBuf>,
}

/// The most of a response body read: a Lease or a Status is a few KiB.
const MAX_BODY: usize = 1 << 20;

impl Client {
    pub fn new(config: &LeaseConfig) -> Result<Client, Error> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|source| Error::Read {
                path: ca.clone(),
                source,
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| Error::Config(format!("the CA file {}: {e}", ca.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Config(format!(
                    "the CA file {} holds no usable certificate",
                    ca.display()
                )));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.renew_deadline));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(config.lease_duration)
            .build(https);
        Ok(Client {
            http,
            collection: format!(
                "{}/apis/coordination.k8s.io/v1/namespaces/{}/leases",
                config.api_url.trim_end_matches('/'),
                config.namespace
            ),
            name: config.name.clone(),
            token_file: config.token_file.clone(),
        })
    }

    pub async fn get(&self) -> Result<Lease, CallError> {
        let url = format!("{}/{}", self.collection, self.name);
        self.call(Method::GET, &url, None).await
    }

    pub async fn create(&self, object: &Value) -> Result<Lease, CallError> {
        let url = self.collection.clone();
        self.call(Method::POST, &url, Some(object)).await
    }

    /// PUT: the API server refuses it with 409 unless `object`'s `resourceVersion` is
    /// the stored one.
    pub async fn replace(&self, object: &Value) -> Result<Lease, CallError> {
        let url = format!("{}/{}", self.collection, self.name);
        self.call(Method::PUT, &url, Some(object)).await
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Lease, CallError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("ladder/", env!("CARGO_PKG_VERSION"), " (leader election)"),
            );
        if let Some(file) = &self.token_file {
            let token = read_token(file)?;
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(serde_json::to_vec(v).expect("JSON serialises")))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| CallError::Other(format!("{method} {url}: {e}")))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| CallError::Other(format!("{method} {url}: {}", chain(&e))))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| CallError::Other(format!("{method} {url}: reading the answer: {e}")))?
            .to_bytes();
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            let json = json.ok_or_else(|| {
                CallError::Other(format!("{method} {url}: {status} without a JSON body"))
            })?;
            return Lease::from_json(json)
                .map_err(|e| CallError::Other(format!("{method} {url}: {e}")));
        }
        // A `Status` says why; its message names the object, never a credential.
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into());
        match status {
            StatusCode::NOT_FOUND => Err(CallError::NotFound),
            StatusCode::CONFLICT => Err(CallError::Conflict(message)),
            _ => Err(CallError::Other(format!(
                "{method} {url}: {status}: {message}"
            ))),
        }
    }
}

fn read_token(file: &Path) -> Result<String, CallError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CallError::Other(format!("reading the token file {}: {e}", file.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CallError::Other(format!(
            "the token file {} is empty",
            file.display()
        )));
    }
    Ok(token.to_string())
}

/// An error and its sources, `: `-separated (hyper's own message is terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
