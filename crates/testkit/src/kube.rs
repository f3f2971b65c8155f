//! A fake of the Kubernetes API server's Lease endpoints (`coordination.k8s.io/v1`),
//! for leader election tests: no API server can run here.
//!
//! `GET`, `POST` and `PUT` of `/apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]`
//! (and `GET` of the collection) with the API server's semantics: a global
//! `metadata.resourceVersion` that grows with every write, `409 Conflict` for a `PUT`
//! carrying a stale one (`422 Invalid` for none), `409 AlreadyExists` for a `POST` of an
//! existing Lease, `404 NotFound` for a missing one (`PUT` does not create Leases),
//! errors as `Status` objects, `MicroTime` fields checked (RFC 3339, six fractional
//! digits), and a bearer token required (`401` otherwise). Plain HTTP on 127.0.0.1.
//!
//! Tests can write a Lease as another replica would ([`FakeKube::edit_lease`]), cut one
//! client off by its token (`503`, as a partition would look; [`FakeKube::block_token`]),
//! and read every request back ([`FakeKube::requests`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::{Value, json};

use crate::servers::axum_thread::AxumThread;

const PREFIX: &str = "/apis/coordination.k8s.io/v1/namespaces/";

/// One request the fake answered.
#[derive(Clone, Debug)]
pub struct KubeRequest {
    /// When it arrived (for ordering, not for timing assertions).
    pub at: Instant,
    /// `GET`, `POST`, `PUT`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The bearer token presented, if any.
    pub token: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// The status answered.
    pub status: u16,
    /// The `reason` of the `Status` answered with an error (`Conflict`,
    /// `AlreadyExists`, `NotFound`, ...).
    pub reason: Option<String>,
}

impl KubeRequest {
    /// `spec.holderIdentity` of the body, for writes.
    pub fn holder(&self) -> Option<&str> {
        self.body
            .as_ref()?
            .pointer("/spec/holderIdentity")?
            .as_str()
    }
}

#[derive(Default)]
struct State {
    tokens: BTreeSet<String>,
    blocked: BTreeSet<String>,
    /// (namespace, name) -> the stored Lease.
    leases: BTreeMap<(String, String), Value>,
    revision: u64,
    uid: u64,
    requests: Vec<KubeRequest>,
}

impl State {
    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }
}

type Shared = Arc<Mutex<State>>;

/// The running fake: stops when dropped.
pub struct FakeKube {
    app: AxumThread,
    state: Shared,
}

impl FakeKube {
    /// Starts the fake on a loopback port, accepting `token` as a bearer token.
    pub fn start(token: &str) -> FakeKube {
        let state: Shared = Arc::new(Mutex::new(State::default()));
        state.lock().unwrap().tokens.insert(token.to_string());
        let shared = state.clone();
        let app = AxumThread::start(1, move |_| {
            axum::Router::new().fallback(move |request: Request| {
                let state = shared.clone();
                async move { handle(state, request).await }
            })
        });
        FakeKube { app, state }
    }

    /// `http://127.0.0.1:PORT`, the API server's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.app.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.app.port
    }

    /// Accepts `token` too (a rotated service account token).
    pub fn allow_token(&self, token: &str) {
        self.state.lock().unwrap().tokens.insert(token.to_string());
    }

    /// Stops accepting `token` (401 from now on).
    pub fn revoke_token(&self, token: &str) {
        self.state.lock().unwrap().tokens.remove(token);
    }

    /// While `blocked`, every request carrying `token` is answered 503 and changes
    /// nothing: that client is cut off from the API server.
    pub fn block_token(&self, token: &str, blocked: bool) {
        let mut st = self.state.lock().unwrap();
        if blocked {
            st.blocked.insert(token.to_string());
        } else {
            st.blocked.remove(token);
        }
    }

    /// The stored Lease.
    pub fn lease(&self, namespace: &str, name: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        st.leases
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Changes (or, given `Value::Null` to start from, creates) the stored Lease as
    /// another writer would: `edit` gets the object, and the write takes a new
    /// `resourceVersion`, so a client's next `PUT` with the old one gets 409.
    pub fn edit_lease(&self, namespace: &str, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut st = self.state.lock().unwrap();
        let key = (namespace.to_string(), name.to_string());
        let mut object = st.leases.get(&key).cloned().unwrap_or_else(|| {
            json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {},
            })
        });
        edit(&mut object);
        let rv = st.next_revision();
        object["metadata"]["resourceVersion"] = json!(rv);
        st.leases.insert(key, object);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<KubeRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}

/// A `Status` answer, as the API server writes them.
fn status(code: u16, reason: &str, message: String, name: Option<&str>) -> (u16, Value) {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(name) = name {
        body["details"] = json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"});
    }
    (code, body)
}

async fn handle(state: Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20)
        .await
        .unwrap_or_default();
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    let token = bearer(&parts.headers);
    let path = parts.uri.path().to_string();
    let mut st = state.lock().unwrap();
    let (code, answer) = if token.as_ref().is_some_and(|t| st.blocked.contains(t)) {
        status(
            503,
            "ServiceUnavailable",
            "the fake cut this client off".into(),
            None,
        )
    } else if !token.as_ref().is_some_and(|t| st.tokens.contains(t)) {
        status(401, "Unauthorized", "Unauthorized".into(), None)
    } else if !bytes.is_empty() && body.is_none() {
        status(400, "BadRequest", "the body is not JSON".into(), None)
    } else if matches!(parts.method, Method::POST | Method::PUT)
        && !parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    {
        status(
            415,
            "UnsupportedMediaType",
            "the body must be application/json".into(),
            None,
        )
    } else {
        route(&mut st, &parts.method, &path, body.as_ref())
    };
    let reason = (code >= 400)
        .then(|| {
            answer
                .get("reason")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .flatten();
    st.requests.push(KubeRequest {
        at: Instant::now(),
        method: parts.method.to_string(),
        path,
        token,
        body,
        status: code,
        reason,
    });
    drop(st);
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&answer).unwrap()))
        .unwrap()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn route(st: &mut State, method: &Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        );
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, [ns, "leases"]) => {
            let items: Vec<Value> = st
                .leases
                .iter()
                .filter(|((n, _), _)| n == ns)
                .map(|(_, v)| v.clone())
                .collect();
            (
                200,
                json!({
                    "kind": "LeaseList",
                    "apiVersion": "coordination.k8s.io/v1",
                    "metadata": {"resourceVersion": st.revision.to_string()},
                    "items": items,
                }),
            )
        }
        (&Method::GET, [ns, "leases", name]) => {
            match st.leases.get(&(ns.to_string(), name.to_string())) {
                Some(v) => (200, v.clone()),
                None => not_found(name),
            }
        }
        (&Method::POST, [ns, "leases"]) => create(st, ns, body.unwrap_or(&Value::Null)),
        (&Method::PUT, [ns, "leases", name]) => update(st, ns, name, body.unwrap_or(&Value::Null)),
        (_, [_, "leases"] | [_, "leases", _]) => status(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
            None,
        ),
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        ),
    }
}

fn not_found(name: &str) -> (u16, Value) {
    status(
        404,
        "NotFound",
        format!("leases.coordination.k8s.io \"{name}\" not found"),
        Some(name),
    )
}

/// What the API server's validation would refuse in a Lease's body.
fn invalid(ns: &str, object: &Value) -> Option<String> {
    if object.get("kind").and_then(Value::as_str) != Some("Lease")
        || object.get("apiVersion").and_then(Value::as_str) != Some("coordination.k8s.io/v1")
    {
        return Some("the body is not a coordination.k8s.io/v1 Lease".into());
    }
    if let Some(body_ns) = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && body_ns != ns
    {
        return Some(format!(
            "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({ns})"
        ));
    }
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    for key in ["acquireTime", "renewTime"] {
        if let Some(v) = spec.get(key)
            && !v.is_null()
            && !v.as_str().is_some_and(is_micro_time)
        {
            return Some(format!(
                "spec.{key}: {v} is not a MicroTime (RFC 3339 with microseconds)"
            ));
        }
    }
    for key in ["leaseDurationSeconds", "leaseTransitions"] {
        if let Some(v) = spec.get(key)
            && !v.is_null()
            && v.as_i64().is_none_or(|n| n < 0)
        {
            return Some(format!("spec.{key}: {v} must be a non-negative integer"));
        }
    }
    if let Some(v) = spec.get("holderIdentity")
        && !v.is_null()
        && !v.is_string()
    {
        return Some(format!("spec.holderIdentity: {v} must be a string"));
    }
    None
}

/// `2024-05-01T12:00:00.123456Z` (or with an offset): Go parses `MicroTime` with
/// exactly six fractional digits.
pub fn is_micro_time(s: &str) -> bool {
    let Some((_, frac)) = s.split_once('.') else {
        return false;
    };
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    digits == 6 && s.parse::<jiff::Timestamp>().is_ok()
}

fn create(st: &mut State, ns: &str, object: &Value) -> (u16, Value) {
    if let Some(problem) = invalid(ns, object) {
        return status(400, "BadRequest", problem, None);
    }
    let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else {
        return status(422, "Invalid", "metadata.name: Required value".into(), None);
    };
    if object.pointer("/metadata/resourceVersion").is_some() {
        return status(
            500,
            "InternalError",
            "resourceVersion should not be set on objects to be created".into(),
            None,
        );
    }
    let key = (ns.to_string(), name.to_string());
    if st.leases.contains_key(&key) {
        return status(
            409,
            "AlreadyExists",
            format!("leases.coordination.k8s.io \"{name}\" already exists"),
            Some(name),
        );
    }
    let mut stored = object.clone();
    st.uid += 1;
    let rv = st.next_revision();
    let meta = &mut stored["metadata"];
    meta["namespace"] = json!(ns);
    meta["resourceVersion"] = json!(rv);
    meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", st.uid));
    meta["creationTimestamp"] = json!(
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    if stored.get("spec").is_none() {
        stored["spec"] = json!({});
    }
    st.leases.insert(key, stored.clone());
    (201, stored)
}

fn update(st: &mut State, ns: &str, name: &str, object: &Value) -> (u16, Value) {
    if let Some(problem) = invalid(ns, object) {
        return status(400, "BadRequest", problem, None);
    }
    if object.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return status(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL".into(),
            None,
        );
    }
    let key = (ns.to_string(), name.to_string());
    let Some(current) = st.leases.get(&key) else {
        return not_found(name);
    };
    let Some(sent) = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    else {
        return status(
            422,
            "Invalid",
            format!(
                "Lease.coordination.k8s.io \"{name}\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
            ),
            Some(name),
        );
    };
    if current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        != Some(sent)
    {
        return status(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            Some(name),
        );
    }
    let mut stored = object.clone();
    // Server-owned metadata stays the server's.
    for key in ["uid", "creationTimestamp"] {
        if let Some(v) = current.pointer(&format!("/metadata/{key}")) {
            stored["metadata"][key] = v.clone();
        }
    }
    stored["metadata"]["namespace"] = json!(ns);
    let rv = st.next_revision();
    stored["metadata"]["resourceVersion"] = json!(rv);
    st.leases.insert(key, stored.clone());
    (200, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(
        fake: &FakeKube,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        // reqwest's rustls has no crypto provider in this workspace: install ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::new();
        let url = format!("{}{path}", fake.url());
        let mut request = client.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let response = request.send().unwrap();
        let code = response.status().as_u16();
        (
            code,
            serde_json::from_str(&response.text().unwrap()).unwrap(),
        )
    }

    fn lease(holder: &str) -> Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l", "namespace": "ns"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "renewTime": "2024-05-01T12:00:00.000001Z", "leaseTransitions": 0},
        })
    }

    const ITEM: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l";
    const LIST: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";

    #[test]
    fn the_fake_has_the_api_server_s_semantics() {
        let fake = FakeKube::start("t");
        let t = Some("t");
        let (code, body) = call(&fake, "GET", ITEM, None, None);
        assert_eq!((code, body["reason"].as_str()), (401, Some("Unauthorized")));
        let (code, body) = call(&fake, "GET", ITEM, t, None);
        assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
        assert_eq!(body["kind"], "Status");
        let (code, body) = call(&fake, "PUT", ITEM, t, Some(lease("a")));
        assert_eq!(code, 404, "PUT does not create a Lease: {body}");

        let (code, created) = call(&fake, "POST", LIST, t, Some(lease("a")));
        assert_eq!(code, 201);
        let rv1 = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let (code, body) = call(&fake, "POST", LIST, t, Some(lease("b")));
        assert_eq!(
            (code, body["reason"].as_str()),
            (409, Some("AlreadyExists"))
        );
        assert_eq!(body["status"], "Failure");
        assert_eq!(body["code"], 409);

        let mut update = created.clone();
        update["spec"]["holderIdentity"] = json!("b");
        let (code, updated) = call(&fake, "PUT", ITEM, t, Some(update.clone()));
        assert_eq!(code, 200);
        let rv2 = updated["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(rv2.parse::<u64>().unwrap() > rv1.parse::<u64>().unwrap());
        // The same write again carries the old resourceVersion: stale.
        let (code, body) = call(&fake, "PUT", ITEM, t, Some(update.clone()));
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("the object has been modified")
        );

        let mut no_rv = updated.clone();
        no_rv["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        assert_eq!(call(&fake, "PUT", ITEM, t, Some(no_rv)).0, 422);
        let mut bad_time = updated.clone();
        bad_time["spec"]["renewTime"] = json!("2024-05-01T12:00:00Z");
        assert_eq!(call(&fake, "PUT", ITEM, t, Some(bad_time)).0, 400);

        // Another writer moves the version on.
        fake.edit_lease("ns", "l", |l| l["metadata"]["labels"] = json!({"x": "y"}));
        let (code, body) = call(&fake, "PUT", ITEM, t, Some(updated.clone()));
        assert_eq!((code, body["reason"].as_str()), (409, Some("Conflict")));
        let (code, got) = call(&fake, "GET", ITEM, t, None);
        assert_eq!(code, 200);
        assert_eq!(got["metadata"]["labels"]["x"], "y");
        assert_eq!(got["spec"]["holderIdentity"], "b");
        let (_, list) = call(&fake, "GET", LIST, t, None);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);

        fake.block_token("t", true);
        assert_eq!(call(&fake, "GET", ITEM, t, None).0, 503);
        fake.block_token("t", false);
        fake.allow_token("u");
        fake.revoke_token("t");
        assert_eq!(call(&fake, "GET", ITEM, t, None).0, 401);
        assert_eq!(call(&fake, "GET", ITEM, Some("u"), None).0, 200);

        let requests = fake.requests();
        assert_eq!(requests[0].status, 401);
        assert_eq!(requests[3].method, "POST");
        assert_eq!(requests[3].holder(), Some("a"));
        assert_eq!(requests[4].reason.as_deref(), Some("AlreadyExists"));
    }

    #[test]
    fn micro_times() {
        assert!(is_micro_time("2024-05-01T12:00:00.123456Z"));
        assert!(is_micro_time("2024-05-01T12:00:00.123456+02:00"));
        assert!(!is_micro_time("2024-05-01T12:00:00Z"));
        assert!(!is_micro_time("2024-05-01T12:00:00.123Z"));
    }
}
