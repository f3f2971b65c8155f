//! Remembered GET answers (ETag, body, Link), for conditional requests: GitHub answers
//! an unchanged resource with 304, which costs no rate limit. The cache is a value the
//! caller keeps: the daemon holds one per tenant across reconciles, and the CLI saves it
//! in its cache folder between runs, so an idle `promote` asks "changed?" instead of
//! reading every page again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Past this many answers the cache starts over rather than grow forever.
const ENTRIES: usize = 2048;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Remembered {
    pub etag: String,
    pub body: String,
    pub link: Option<String>,
}

/// A shared cache of GET answers by API path. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct ResponseCache {
    entries: Arc<Mutex<HashMap<String, Remembered>>>,
}

impl ResponseCache {
    pub fn new() -> ResponseCache {
        ResponseCache::default()
    }

    pub(crate) fn get(&self, path: &str) -> Option<Remembered> {
        self.lock().get(path).cloned()
    }

    pub(crate) fn put(&self, path: &str, remembered: Remembered) {
        let mut entries = self.lock();
        if entries.len() >= ENTRIES && !entries.contains_key(path) {
            entries.clear();
        }
        entries.insert(path.to_string(), remembered);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Remembered>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache saved at `file` by [`save`](Self::save); empty when there is none or it
    /// cannot be read (a cache is never worth failing for).
    pub fn load(file: &Path) -> ResponseCache {
        let entries = std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<HashMap<String, Remembered>>(&bytes).ok())
            .unwrap_or_default();
        ResponseCache {
            entries: Arc::new(Mutex::new(entries)),
        }
    }

    /// Saves the cache at `file`, replacing it in one rename (a reader never sees half a
    /// file). It holds API answers, never credentials.
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&*self.lock()).map_err(std::io::Error::other)?;
        let dir = file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut temp, &bytes)?;
        temp.persist(file).map_err(|e| e.error)?;
        Ok(())
    }
}
