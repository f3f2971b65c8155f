//! The Lease object as JSON, and the leader election record in its spec.

use jiff::Timestamp;
use serde_json::{Value, json};

/// The part of `spec` an election reads and writes (client-go's
/// `LeaderElectionRecord`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Record {
    /// `holderIdentity`; empty or absent: nobody holds the Lease.
    pub holder: String,
    /// `leaseDurationSeconds`.
    pub duration_seconds: Option<i64>,
    /// `acquireTime`.
    pub acquire: Option<Timestamp>,
    /// `renewTime`.
    pub renew: Option<Timestamp>,
    /// `leaseTransitions`.
    pub transitions: i64,
    /// Where the holder's HTTP server is reached (the annotation [`ADDRESS_ANNOTATION`]),
    /// so that a standby can pass on what only the leader acts on.
    pub address: Option<String>,
}

/// The Lease annotation holding the holder's address...
pub(crate) const ADDRESS_ANNOTATION: &str = "ladder.dev/leader-address";
/// ...and whose address it is: an address is believed only for the holder that wrote
/// it (a replica that does not write one, an older version say, may hold the Lease
/// with its predecessor's annotations still on it).
pub(crate) const ADDRESS_OF_ANNOTATION: &str = "ladder.dev/leader-address-of";

/// A Lease as the API server returned it: the whole object (written back on update so
/// labels, annotations and fields this crate does not know survive), its
/// `resourceVersion`, and the record.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    pub object: Value,
    pub resource_version: String,
    pub record: Record,
}

/// A `MicroTime` as the API server writes it: RFC 3339, UTC, exactly six fractional
/// digits (`2024-05-01T12:00:00.123456Z`).
pub(crate) fn micro_time(t: Timestamp) -> String {
    let micros = t.as_microsecond();
    let t = Timestamp::from_microsecond(micros).unwrap_or(t);
    format!("{t:.6}")
}

fn parse_time(v: Option<&Value>) -> Option<Timestamp> {
    v?.as_str()?.parse().ok()
}

impl Lease {
    pub fn from_json(object: Value) -> Result<Lease, String> {
        let resource_version = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .ok_or("the Lease has no metadata.resourceVersion")?
            .to_string();
        let spec = object.get("spec");
        let field = |k: &str| spec.and_then(|s| s.get(k));
        let record = Record {
            holder: field("holderIdentity")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            duration_seconds: field("leaseDurationSeconds").and_then(Value::as_i64),
            acquire: parse_time(field("acquireTime")),
            renew: parse_time(field("renewTime")),
            transitions: field("leaseTransitions")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            address: None,
        };
        let annotation = |key: &str| {
            object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
        };
        let record = Record {
            address: annotation(ADDRESS_ANNOTATION)
                .filter(|_| {
                    !record.holder.is_empty()
                        && annotation(ADDRESS_OF_ANNOTATION) == Some(record.holder.as_str())
                })
                .map(String::from),
            ..record
        };
        Ok(Lease {
            object,
            resource_version,
            record,
        })
    }

    /// The object to PUT: this one (its `resourceVersion` included) with `record` in
    /// its spec.
    pub fn with_record(&self, record: &Record) -> Value {
        let mut object = self.object.clone();
        if !object.get("spec").is_some_and(Value::is_object) {
            object["spec"] = json!({});
        }
        let spec = object["spec"].as_object_mut().expect("spec is an object");
        write_record(spec, record);
        write_address(&mut object, record);
        object
    }
}

fn write_address(object: &mut Value, record: &Record) {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    let metadata = object["metadata"].as_object_mut().expect("an object");
    match &record.address {
        Some(address) => {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if !annotations.is_object() {
                *annotations = json!({});
            }
            annotations[ADDRESS_ANNOTATION] = json!(address);
            annotations[ADDRESS_OF_ANNOTATION] = json!(record.holder);
        }
        None => {
            if let Some(annotations) = metadata
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove(ADDRESS_ANNOTATION);
                annotations.remove(ADDRESS_OF_ANNOTATION);
            }
        }
    }
}

fn write_record(spec: &mut serde_json::Map<String, Value>, record: &Record) {
    spec.insert("holderIdentity".into(), json!(record.holder));
    match record.duration_seconds {
        Some(d) => spec.insert("leaseDurationSeconds".into(), json!(d)),
        None => spec.remove("leaseDurationSeconds"),
    };
    for (key, time) in [("acquireTime", record.acquire), ("renewTime", record.renew)] {
        match time {
            Some(t) => spec.insert(key.into(), json!(micro_time(t))),
            None => spec.remove(key),
        };
    }
    spec.insert("leaseTransitions".into(), json!(record.transitions));
}

/// A new Lease to POST.
pub(crate) fn new_lease(namespace: &str, name: &str, record: &Record) -> Value {
    let mut spec = serde_json::Map::new();
    write_record(&mut spec, record);
    let mut object = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    });
    write_address(&mut object, record);
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_has_six_digits_and_z() {
        let t: Timestamp = "2024-05-01T12:00:00.1234567Z".parse().unwrap();
        assert_eq!(micro_time(t), "2024-05-01T12:00:00.123456Z");
        let t: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(micro_time(t), "2024-05-01T12:00:00.000000Z");
    }

    #[test]
    fn records_round_trip_and_keep_unknown_fields() {
        let object = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l", "namespace": "n", "resourceVersion": "7",
                         "labels": {"a": "b"}},
            "spec": {"holderIdentity": "p", "leaseDurationSeconds": 15,
                     "acquireTime": "2024-05-01T12:00:00.000001Z",
                     "renewTime": "2024-05-01T12:00:10.000002Z",
                     "leaseTransitions": 3, "strategy": "OldestEmulationVersion"},
        });
        let lease = Lease::from_json(object).unwrap();
        assert_eq!(lease.resource_version, "7");
        assert_eq!(lease.record.holder, "p");
        assert_eq!(lease.record.transitions, 3);
        assert_eq!(lease.record.address, None);
        let mut record = lease.record.clone();
        record.holder = "q".into();
        record.address = Some("http://10.0.0.7:8080".into());
        let out = lease.with_record(&record);
        assert_eq!(out["metadata"]["labels"]["a"], "b");
        assert_eq!(
            out["metadata"]["annotations"][ADDRESS_ANNOTATION],
            "http://10.0.0.7:8080"
        );
        assert_eq!(out["metadata"]["resourceVersion"], "7");
        assert_eq!(out["spec"]["strategy"], "OldestEmulationVersion");
        assert_eq!(out["spec"]["holderIdentity"], "q");
        assert_eq!(out["spec"]["renewTime"], "2024-05-01T12:00:10.000002Z");
        assert_eq!(out["metadata"]["annotations"][ADDRESS_OF_ANNOTATION], "q");
        let back = Lease::from_json(out.clone()).unwrap();
        assert_eq!(back.record, record);
        // Held by another that wrote no address of its own: the old one is not its.
        let mut taken = out.clone();
        taken["spec"]["holderIdentity"] = json!("r");
        assert_eq!(Lease::from_json(taken).unwrap().record.address, None);
        // Released: the address goes with the holder.
        record.holder.clear();
        record.address = None;
        let out = back.with_record(&record);
        assert!(
            out["metadata"]["annotations"]
                .get(ADDRESS_ANNOTATION)
                .is_none()
        );
        let new = new_lease("n", "l", &back.record);
        assert_eq!(
            Lease::from_json(json!({"metadata": {"resourceVersion": "1", "annotations": new["metadata"]["annotations"]}, "spec": new["spec"]}))
                .unwrap()
                .record,
            back.record
        );
    }
}
