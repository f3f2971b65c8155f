//! Expectations about rendered output.

use std::collections::BTreeMap;

/// The bundled example's rendered files as they must be when the tenant lives in the
/// folder `prefix` of a larger repository: Argo CD reads a repository from its root,
/// so config-repo paths (`path: apps/...`, `$values/apps/...`) gain the prefix, while
/// the chart taken from another repository (`path: chart`) keeps its own path. Panics
/// if fewer than six files change, so a test built on it cannot pass vacuously.
pub fn example_in_subfolder(
    files: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
) -> BTreeMap<String, Vec<u8>> {
    let mut changed = 0;
    let out = files
        .iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8(bytes.clone()).expect("rendered files are UTF-8");
            let moved = text
                .replace("    path: apps/", &format!("    path: {prefix}/apps/"))
                .replace("$values/apps/", &format!("$values/{prefix}/apps/"));
            changed += usize::from(moved != text);
            (name.clone(), moved.into_bytes())
        })
        .collect();
    assert!(changed >= 6, "the example has config-repo paths to move");
    out
}
