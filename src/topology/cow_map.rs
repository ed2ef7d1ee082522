//! A copy-on-write hash map whose clone is O(1) and whose writes copy only a small slice.
//!
//! The live topology is published to readers as an immutable snapshot after every watch event;
//! cloning a `HashMap` of 100,000 entries per event would cost milliseconds. Here the entries
//! are spread over 16 × 16 × 16 leaves behind three levels of `Arc`s: a clone shares
//! everything, and a write to a shared map copies three 16-pointer tables and one leaf (about
//! 25 entries at 100,000 objects, each a reference-count increment) while every reader keeps
//! the snapshot it loaded. Copying a table costs one reference-count increment per child, and
//! freeing it later one decrement each, so narrow tables are cheaper per write than wide ones
//! (two levels of 64 copied 128 pointers per write; these copy 48).
//!
//! Why not a persistent-map crate: the maintained ones (`imbl`, `rpds`) are MPL-2.0, and this
//! project depends only on Apache-2.0/MIT code. Three fixed levels are all the index needs:
//! the leaves stay small up to a few million entries.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

const BITS: u32 = 4;
const FANOUT: usize = 1 << BITS;

type Table<T> = [Option<Arc<T>>; FANOUT];
/// Sorted by key: found by binary search, no second hash of the key.
type Leaf<V> = Vec<(Arc<str>, V)>;
type Root<V> = Table<Table<Table<Leaf<V>>>>;

/// A map from string keys to `V`; see the module documentation.
#[derive(Debug)]
pub(crate) struct CowMap<V> {
    root: Arc<Root<V>>,
    len: usize,
    /// Places keys in leaves. Random per map (and shared by its clones, which must agree on
    /// where a key lives), so a caller choosing names cannot pile them into one leaf.
    hasher: RandomState,
}

impl<V> Clone for CowMap<V> {
    fn clone(&self) -> CowMap<V> {
        CowMap {
            root: self.root.clone(),
            len: self.len,
            hasher: self.hasher.clone(),
        }
    }
}

fn empty_table<T>() -> Table<T> {
    std::array::from_fn(|_| None)
}

impl<V> Default for CowMap<V> {
    fn default() -> CowMap<V> {
        CowMap {
            root: Arc::new(empty_table()),
            len: 0,
            hasher: RandomState::new(),
        }
    }
}

/// The slot of a key at each level.
type Path = [usize; 3];

/// The table slot `slot` points at, created empty if absent and copied first if a snapshot
/// shares it.
fn child_mut<T: Clone>(table: &mut Table<T>, slot: usize, empty: fn() -> T) -> Option<&mut T> {
    let child = table
        .get_mut(slot)?
        .get_or_insert_with(|| Arc::new(empty()));
    Some(Arc::make_mut(child))
}

fn find<V>(leaf: &Leaf<V>, key: &str) -> Result<usize, usize> {
    leaf.binary_search_by(|(k, _)| (**k).cmp(key))
}

impl<V: Clone> CowMap<V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn path(&self, key: &str) -> Path {
        let h = self.hasher.hash_one(key);
        let mask = (FANOUT - 1) as u64;
        // Each value is masked below FANOUT, so the casts cannot truncate.
        [
            (h & mask) as usize,
            ((h >> BITS) & mask) as usize,
            ((h >> (2 * BITS)) & mask) as usize,
        ]
    }

    fn leaf(&self, key: &str) -> Option<&Leaf<V>> {
        let [a, b, c] = self.path(key);
        self.root
            .get(a)?
            .as_deref()?
            .get(b)?
            .as_deref()?
            .get(c)?
            .as_deref()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let leaf = self.leaf(key)?;
        leaf.get(find(leaf, key).ok()?).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The leaf at `path`, copied (with the tables above it) first if a snapshot shares it.
    fn leaf_mut(&mut self, [a, b, c]: Path) -> Option<&mut Leaf<V>> {
        let root = Arc::make_mut(&mut self.root);
        let mid = child_mut(root, a, empty_table)?;
        let low = child_mut(mid, b, empty_table)?;
        child_mut(low, c, Vec::new)
    }

    /// Inserts or replaces; returns the previous value.
    pub(crate) fn insert(&mut self, key: &str, value: V) -> Option<V> {
        let path = self.path(key);
        let leaf = self.leaf_mut(path)?;
        let previous = match find(leaf, key) {
            Ok(at) => leaf
                .get_mut(at)
                .map(|(_, slot)| std::mem::replace(slot, value)),
            Err(at) => {
                leaf.insert(at, (Arc::from(key), value));
                None
            }
        };
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes `key`; a map that does not hold it is left untouched (no copy).
    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let path = self.path(key);
        let [a, b, c] = path;
        let shared_leaf = self
            .root
            .get(a)?
            .as_deref()?
            .get(b)?
            .as_deref()?
            .get(c)?
            .as_deref()?;
        let at = find(shared_leaf, key).ok()?;
        let leaf = self.leaf_mut(path)?;
        if at >= leaf.len() {
            return None;
        }
        let (_, removed) = leaf.remove(at);
        self.len -= 1;
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> CowMap<usize> {
        let mut map = CowMap::default();
        for i in 0..10_000 {
            map.insert(&format!("k{i}"), i);
        }
        map
    }

    /// Every leaf of `map`, by address.
    fn leaves(map: &CowMap<usize>) -> Vec<*const Leaf<usize>> {
        let mut out = Vec::new();
        for mid in map.root.iter().flatten() {
            for low in mid.iter().flatten() {
                out.extend(low.iter().flatten().map(Arc::as_ptr));
            }
        }
        out
    }

    #[test]
    fn a_clone_keeps_its_contents_while_the_original_changes() {
        let mut map = filled();
        let snapshot = map.clone();
        assert_eq!(map.insert("k1", 100), Some(1));
        assert_eq!(map.remove("k2"), Some(2));
        assert_eq!(map.remove("k2"), None);
        assert_eq!(map.remove("absent"), None);
        map.insert("new", 7);
        assert_eq!(
            (snapshot.get("k1"), snapshot.get("k2")),
            (Some(&1), Some(&2))
        );
        assert_eq!(snapshot.get("new"), None);
        assert_eq!((map.get("k1"), map.get("k2")), (Some(&100), None));
        assert_eq!(map.get("new"), Some(&7));
        assert_eq!((snapshot.len(), map.len()), (10_000, 10_000));
    }

    #[test]
    fn every_key_is_found_after_inserts_and_removes_in_any_order() {
        let mut map = CowMap::default();
        for i in (0..5_000).rev() {
            map.insert(&format!("k{i}"), i);
        }
        for i in (0..5_000).step_by(3) {
            assert_eq!(map.remove(&format!("k{i}")), Some(i));
        }
        for i in 0..5_000 {
            let expected = (i % 3 != 0).then_some(i);
            assert_eq!(map.get(&format!("k{i}")).copied(), expected, "k{i}");
        }
        assert_eq!(map.len(), 5_000 - 5_000_usize.div_ceil(3));
    }

    #[test]
    fn a_write_to_a_shared_map_copies_one_leaf_only() {
        let mut map = filled();
        let snapshot = map.clone();
        map.insert("k5", 0);
        let (now, before) = (leaves(&map), leaves(&snapshot));
        assert_eq!(now.len(), before.len());
        let copied = now.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert_eq!(copied, 1);
    }

    #[test]
    fn removing_an_absent_key_copies_nothing() {
        let mut map = filled();
        let snapshot = map.clone();
        assert_eq!(map.remove("absent"), None);
        assert!(Arc::ptr_eq(&map.root, &snapshot.root));
    }
}
