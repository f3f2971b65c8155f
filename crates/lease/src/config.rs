//! What an election needs: where the API server is, the credentials' files, the Lease,
//! who we are, and the timings.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;

/// The service account's folder in every pod that mounts its token.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The service account token (rotated by the kubelet: read again on every request).
pub const IN_CLUSTER_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The cluster's CA bundle, which signs the API server's certificate.
pub const IN_CLUSTER_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The pod's namespace.
pub const IN_CLUSTER_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The API server's URL from the values of `KUBERNETES_SERVICE_HOST` and
/// `KUBERNETES_SERVICE_PORT` (the caller reads the variables): `https://HOST:PORT`, an
/// IPv6 address in brackets.
pub fn in_cluster_api_url(host: &str, port: &str) -> String {
    let host = host.trim();
    if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{}", port.trim())
    } else {
        format!("https://{host}:{}", port.trim())
    }
}

/// One election: the Lease `namespace/name` on the API server at `api_url`, contended
/// under `identity`.
///
/// Timings as client-go's `leaderelection` has them: a leader renews every
/// `retry_period` and steps down when it has not renewed for `renew_deadline`; a
/// candidate takes a Lease over once its record has not changed for its
/// `leaseDurationSeconds` (or it was released). `lease_duration > renew_deadline >
/// 1.2 * retry_period`, whole seconds for `lease_duration`.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// `https://HOST:PORT` in a cluster ([`in_cluster_api_url`]); `http://` is accepted
    /// (a fake API server on loopback), and then no CA is needed.
    pub api_url: String,
    /// A file holding the bearer token, read again for every request (service account
    /// tokens rotate). `None`: no `Authorization` header.
    pub token_file: Option<PathBuf>,
    /// The PEM bundle of CAs the API server's certificate must chain to; required for
    /// `https://`. Read once, when the election starts.
    pub ca_file: Option<PathBuf>,
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's holder identity: the pod name.
    pub identity: String,
    /// Where the other replicas reach this one's HTTP server (`http://POD_IP:PORT`),
    /// written on the Lease while this replica holds it, so that a standby can pass
    /// webhooks on to the leader. `None`: not written.
    pub address: Option<String>,
    /// How long a Lease stays held without renewal (`leaseDurationSeconds`). 15 s.
    pub lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal. 10 s.
    pub renew_deadline: Duration,
    /// How often a leader renews and a candidate tries. 2 s.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A config with the in-cluster credential files and client-go's default timings.
    pub fn new(
        api_url: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> LeaseConfig {
        LeaseConfig {
            api_url: api_url.into(),
            token_file: Some(PathBuf::from(IN_CLUSTER_TOKEN_FILE)),
            ca_file: Some(PathBuf::from(IN_CLUSTER_CA_FILE)),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            address: None,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// `leaseDurationSeconds` as written to the Lease: whole seconds, at least 1.
    pub(crate) fn lease_duration_seconds(&self) -> i64 {
        self.lease_duration.as_secs().max(1) as i64
    }

    /// Every problem a running election could only fail on later (the CA file is read
    /// only when the election starts). [`run_election`](crate::run_election) checks this
    /// first; call it early for `--check-config`.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        for (what, value) in [("namespace", &self.namespace), ("name", &self.name)] {
            if !is_dns_subdomain(value) {
                return bad(format!(
                    "the Lease {what} {value:?} is not a DNS-1123 subdomain"
                ));
            }
        }
        if self.identity.trim().is_empty() {
            return bad("the holder identity is empty".into());
        }
        if self.retry_period.is_zero() {
            return bad("retry_period is zero".into());
        }
        if self.lease_duration.subsec_nanos() != 0 || self.lease_duration.as_secs() == 0 {
            return bad(format!(
                "lease_duration {:?} is not a whole number of seconds (leaseDurationSeconds)",
                self.lease_duration
            ));
        }
        if self.lease_duration <= self.renew_deadline {
            return bad(format!(
                "lease_duration {:?} must be longer than renew_deadline {:?}",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline.as_secs_f64() <= 1.2 * self.retry_period.as_secs_f64() {
            return bad(format!(
                "renew_deadline {:?} must be longer than 1.2 x retry_period {:?}",
                self.renew_deadline, self.retry_period
            ));
        }
        let url: http::Uri = self
            .api_url
            .parse()
            .map_err(|e| Error::Config(format!("api_url {:?}: {e}", self.api_url)))?;
        match url.scheme_str() {
            Some("https") if self.ca_file.is_none() => {
                bad("an https api_url needs a ca_file".into())
            }
            Some("https") | Some("http") if url.host().is_some() => Ok(()),
            _ => bad(format!(
                "api_url {:?} is not an http(s) URL with a host",
                self.api_url
            )),
        }
    }
}

/// A Kubernetes object name of the subdomain kind: lowercase alphanumerics, `-` and
/// `.`, at most 253 characters, alphanumeric at both ends.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LeaseConfig {
        let mut c = LeaseConfig::new("http://127.0.0.1:1", "ladder", "ladder-leader", "pod-a");
        c.ca_file = None;
        c
    }

    #[test]
    fn defaults_are_client_go_s_and_valid() {
        let c = LeaseConfig::new("https://10.0.0.1:443", "ns", "l", "p");
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert_eq!(c.renew_deadline, Duration::from_secs(10));
        assert_eq!(c.retry_period, Duration::from_secs(2));
        c.validate().unwrap();
        config().validate().unwrap();
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = config();
        c.api_url = "https://10.0.0.1".into();
        assert!(c.validate().is_err(), "https without a CA");
        let mut c = config();
        c.api_url = "ftp://x".into();
        assert!(c.validate().is_err());
        let mut c = config();
        c.name = "Not_A_Name".into();
        assert!(c.validate().is_err());
        let mut c = config();
        c.identity = " ".into();
        assert!(c.validate().is_err());
        let mut c = config();
        c.renew_deadline = c.lease_duration;
        assert!(c.validate().is_err());
        let mut c = config();
        c.retry_period = Duration::from_secs(9);
        assert!(c.validate().is_err());
        let mut c = config();
        c.lease_duration = Duration::from_millis(15_500);
        assert!(c.validate().is_err());
    }

    #[test]
    fn in_cluster_urls() {
        assert_eq!(
            in_cluster_api_url("10.96.0.1", "443"),
            "https://10.96.0.1:443"
        );
        assert_eq!(
            in_cluster_api_url("fd00::1", "6443"),
            "https://[fd00::1]:6443"
        );
    }
}
