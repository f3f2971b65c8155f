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
//!
//! Only what a delivery is made of goes on (its content type, user agent, and the
//! forges' own `X-GitHub-*`, `X-Hub-Signature*`, `X-Gitea-*`, `X-Gogs-*`, `X-Gitlab-*`
//! headers), and only to an IP address and port (`http://IP:PORT`, as the leader
//! writes it from its pod IP), never to a host name the Lease might be made to name.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The mark on a forwarded delivery.
pub(crate) const FORWARDED: &str = "x-ladder-forwarded";

/// How long the leader may take to answer: it only schedules work. Well within the
/// senders' own delivery timeouts (GitHub's is 10 s), so that an unreachable leader
/// gives the sender a 503 and not a timeout of its own.
const TIMEOUT: Duration = Duration::from_secs(4);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The most of the leader's answer read: a small JSON object.
const MAX_ANSWER: usize = 64 * 1024;

/// Whether a header is part of the delivery (and not of the connection it came on).
fn passed_on(name: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "x-github-",
        "x-hub-signature",
        "x-gitea-",
        "x-gogs-",
        "x-gitlab-",
    ];
    name == "content-type" || name == "user-agent" || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The leader's `http://IP:PORT` as a socket address; anything else is refused.
fn leader_socket(leader: &str) -> Option<SocketAddr> {
    leader
        .strip_prefix("http://")?
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// Sends the delivery to `leader` (`http://HOST:PORT`) at `path`; the leader's status
/// and body, or why there is none.
pub(crate) async fn to_leader(
    leader: &str,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Bytes), String> {
    let Some(socket) = leader_socket(leader) else {
        return Err(format!(
            "the Lease names {leader:?} as the leader's address, which is not http://IP:PORT"
        ));
    };
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{socket}{path}"));
    for (name, value) in headers {
        if passed_on(name.as_str()) {
            request = request.header(name, value);
        }
    }
    let request = request
        .header(FORWARDED, "1")
        .body(Full::new(body))
        .map_err(|e| format!("cannot pass the delivery on to {socket}: {e}"))?;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ip_and_port_is_a_leader() {
        assert_eq!(
            leader_socket("http://10.1.2.3:8080"),
            Some("10.1.2.3:8080".parse().unwrap())
        );
        assert_eq!(
            leader_socket("http://[fd00::7]:8080/"),
            Some("[fd00::7]:8080".parse().unwrap())
        );
        for bad in [
            "http://evil.example.com:80",
            "https://10.1.2.3:8080",
            "http://10.1.2.3",
            "10.1.2.3:8080",
            "http://10.1.2.3:8080/path",
        ] {
            assert_eq!(leader_socket(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_delivery_headers_are_passed_on() {
        for kept in [
            "content-type",
            "user-agent",
            "x-github-event",
            "x-github-delivery",
            "x-hub-signature-256",
            "x-gitea-signature",
            "x-gitlab-token",
            "x-gitlab-event",
        ] {
            assert!(passed_on(kept), "{kept}");
        }
        for dropped in [
            "host",
            "connection",
            "content-length",
            "transfer-encoding",
            "te",
            "upgrade",
            "keep-alive",
            "proxy-authorization",
            "authorization",
            "cookie",
            FORWARDED,
        ] {
            assert!(!passed_on(dropped), "{dropped}");
        }
    }
}
