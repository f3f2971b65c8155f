//! A map bounded by the estimated bytes of its entries, least recently used out.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Entries carry a caller-estimated cost in bytes; inserting past the capacity drops the
/// entries used longest ago. An entry costlier than the whole capacity is not kept.
pub(super) struct Lru<K, V> {
    map: HashMap<K, Slot<V>>,
    /// Last use -> key: the first entry is the one to drop next.
    order: BTreeMap<u64, K>,
    clock: u64,
    bytes: usize,
    capacity: usize,
}

struct Slot<V> {
    value: V,
    used: u64,
    cost: usize,
}

/// What a map entry and its place in the use order cost beyond key and value: hash map
/// slot, B-tree entry, counters. An estimate; it only has to grow with the entries.
pub(super) const ENTRY_OVERHEAD: usize = 64;

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            capacity,
        }
    }

    pub fn get(&mut self, key: &K) -> Option<&V> {
        let slot = self.map.get_mut(key)?;
        self.clock += 1;
        if let Some(k) = self.order.remove(&slot.used) {
            self.order.insert(self.clock, k);
        }
        slot.used = self.clock;
        Some(&slot.value)
    }

    pub fn insert(&mut self, key: K, value: V, cost: usize) {
        self.remove(&key);
        if cost > self.capacity {
            return;
        }
        self.clock += 1;
        self.order.insert(self.clock, key.clone());
        self.map.insert(
            key,
            Slot {
                value,
                used: self.clock,
                cost,
            },
        );
        self.bytes += cost;
        self.shrink();
    }

    fn remove(&mut self, key: &K) {
        if let Some(slot) = self.map.remove(key) {
            self.order.remove(&slot.used);
            self.bytes -= slot.cost;
        }
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.shrink();
    }

    fn shrink(&mut self) {
        while self.bytes > self.capacity {
            let Some((_, key)) = self.order.pop_first() else {
                break;
            };
            if let Some(slot) = self.map.remove(&key) {
                self.bytes -= slot.cost;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_least_recently_used_first() {
        let mut lru = Lru::new(30);
        lru.insert(1, "a", 10);
        lru.insert(2, "b", 10);
        lru.insert(3, "c", 10);
        assert_eq!(lru.get(&1), Some(&"a"));
        lru.insert(4, "d", 10);
        assert_eq!(lru.get(&2), None, "2 was used longest ago");
        assert_eq!(lru.get(&1), Some(&"a"));
        assert_eq!((lru.len(), lru.bytes()), (3, 30));
        lru.insert(1, "A", 5);
        assert_eq!((lru.len(), lru.bytes()), (3, 25));
        lru.insert(9, "huge", 31);
        assert_eq!(lru.get(&9), None, "costlier than the whole capacity");
        lru.set_capacity(10);
        assert_eq!(lru.len(), 1);
        assert_eq!(lru.get(&1), Some(&"A"), "the most recently used stays");
    }
}
