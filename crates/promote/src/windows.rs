//! Argo CD sync windows: whether a `deny` window is active for an Application now.
