//! [`BoundedCache`]: the TUI's one kind of memory for things computed in the background
//! (previews, pair maps, decoded photos, encoded graphics), bounded by a count so that a long
//! session does not grow without end.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A map of at most `capacity` entries. Inserting beyond it evicts the entry least recently
/// inserted or [`touch`](BoundedCache::touch)ed (reading with `get` does not count as a use,
/// so that drawing a frame, which only reads, needs no `&mut`).
#[derive(Debug, Clone)]
pub struct BoundedCache<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    /// Entries by the tick of their last use, oldest first.
    order: BTreeMap<u64, K>,
    tick: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.entries.contains_key(key)
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// Every value, to change in place; not a use.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut().map(|(v, _)| v)
    }

    /// Changes an entry in place; not a use (its place in the eviction order stays).
    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Stores `value` under `key` as the most recently used entry, evicting the least
    /// recently used ones beyond the capacity.
    pub fn insert(&mut self, key: K, value: V) {
        let tick = self.next_tick();
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, tick)) {
            self.order.remove(&old);
        }
        self.order.insert(tick, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// Marks `key` as just used, so that it is evicted last; nothing if absent.
    pub fn touch(&mut self, key: &K) {
        let tick = self.next_tick();
        if let Some((_, used)) = self.entries.get_mut(key) {
            self.order.remove(used);
            *used = tick;
            self.order.insert(tick, key.clone());
        }
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let (v, tick) = self.entries.remove(key)?;
        self.order.remove(&tick);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut c = BoundedCache::new(3);
        for k in ["a", "b", "c"] {
            c.insert(k, k.to_uppercase());
        }
        assert_eq!(c.len(), 3);
        // A read is not a use; a touch is.
        assert_eq!(c.get(&"a").map(String::as_str), Some("A"));
        c.touch(&"a");
        c.insert("d", "D".into());
        assert!(!c.contains_key(&"b"), "b was the least recently used");
        assert!(c.contains_key(&"a") && c.contains_key(&"c") && c.contains_key(&"d"));
        // Replacing an entry makes it the newest and does not grow the cache.
        c.insert("c", "C2".into());
        assert_eq!(c.len(), 3);
        c.insert("e", "E".into());
        assert!(!c.contains_key(&"a"));
        assert_eq!(c.get(&"c").map(String::as_str), Some("C2"));
        // Changing in place keeps the place; removing frees one.
        c.get_mut(&"d").unwrap().push('!');
        assert_eq!(c.remove(&"d").as_deref(), Some("D!"));
        assert_eq!(c.len(), 2);
        c.touch(&"gone");
        c.insert("f", "F".into());
        c.insert("g", "G".into());
        assert_eq!(c.len(), 3);
        assert!(!c.contains_key(&"c"), "c was older than e, f and g");
    }

    #[test]
    fn a_zero_capacity_still_keeps_the_newest() {
        let mut c = BoundedCache::new(0);
        c.insert(1, ());
        c.insert(2, ());
        assert_eq!((c.len(), c.contains_key(&2)), (1, true));
    }
}
