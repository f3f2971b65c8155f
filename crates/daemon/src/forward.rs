//! Passing a webhook a standby received on to the leader.
//!
//! With two replicas behind one Service, about half of the deliveries reach the standby,
//! which does not reconcile. It has checked the delivery's signature and found the
//! tenant; it then sends the same request (body and headers, the signature included)
//! to the address the leader wrote on the Lease, and answers with the leader's answer.
//! The leader checks the signature again: the standby is not trusted with anything. A
//! forwarded request is marked, and a replica that does not lead answers a marked one
//! with 503 instead of passing it on again, so a delivery never loops while the Lease
//! changes hands.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The mark on a forwarded delivery.
pub(crate) const FORWARDED: &str = "x-ladder-forwarded";

/// How long the leader may take to answer: it only schedules work.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of the leader's answer read: a small JSON object.
const MAX_ANSWER: usize = 64 * 1024;

/// Headers that belong to one connection, not to the delivery.
const HOP_BY_HOP: [HeaderName; 4] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];

/// Sends the delivery to `leader` (`http://HOST:PORT`) at `path`; the leader's status
/// and body, or why there is none.
pub(crate) async fn to_leader(
    leader: &str,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Bytes), String> {
    let url = format!("{}{path}", leader.trim_end_matches('/'));
    let mut request = Request::builder().method(Method::POST).uri(&url);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(name) {
            request = request.header(name, value);
        }
    }
    let request = request
        .header(FORWARDED, "1")
        .body(Full::new(body))
        .map_err(|e| format!("the leader's address {leader:?} is not usable: {e}"))?;
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!("the leader at {leader} did not answer: {e}")),
        Err(_) => Err(format!(
            "the leader at {leader} did not answer within {}s",
            TIMEOUT.as_secs()
        )),
    }
}
