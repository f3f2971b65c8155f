//! The readiness gate: the platform's production checklist, evaluated on the manifests
//! ladder can see.
