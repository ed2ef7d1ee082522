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
//! A key is given as its parts (name, namespace, cluster…), hashed and compared part by part
//! as if joined by NUL bytes, which no Kubernetes name contains: a lookup builds no string.
//! Only a new entry stores its key, joined once.
//!
//! Why not a persistent-map crate: the maintained ones (`imbl`, `rpds`) are MPL-2.0, and this
//! project depends only on Apache-2.0/MIT code. Three fixed levels are all the index needs:
//! the leaves stay small up to a few million entries.

use std::cmp::Ordering;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;

const BITS: u32 = 4;
const FANOUT: usize = 1 << BITS;
/// Joins the parts of a stored key.
const SEPARATOR: u8 = 0;

type Table<T> = [Option<Arc<T>>; FANOUT];
/// Each entry with its key's full hash, sorted by hash then key: a binary search compares
/// integers, and a key's bytes only on a (rare) equal hash.
type Leaf<V> = Vec<(u64, Arc<str>, V)>;
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

/// What [`CowMap::update`] does with the entry it was shown.
pub(crate) enum Write<V> {
    /// Leave the map as it is: nothing is copied.
    Keep,
    Set(V),
    Remove,
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

/// A key's hash, which gives its slot at each level and its place in the leaf.
#[derive(Clone, Copy)]
struct Path(u64);

impl Path {
    fn slots(self) -> [usize; 3] {
        let mask = (FANOUT - 1) as u64;
        // Each value is masked below FANOUT, so the casts cannot truncate.
        [
            (self.0 & mask) as usize,
            ((self.0 >> BITS) & mask) as usize,
            ((self.0 >> (2 * BITS)) & mask) as usize,
        ]
    }
}

/// The table slot `slot` points at, created empty if absent and copied first if a snapshot
/// shares it.
fn child_mut<T: Clone>(table: &mut Table<T>, slot: usize, empty: fn() -> T) -> Option<&mut T> {
    let child = table
        .get_mut(slot)?
        .get_or_insert_with(|| Arc::new(empty()));
    Some(Arc::make_mut(child))
}

/// Orders a stored (joined) key against a key given as parts, exactly as the joined strings
/// would compare.
fn cmp_parts(stored: &str, parts: &[&str]) -> Ordering {
    let mut rest = stored.as_bytes();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            match rest.split_first() {
                None => return Ordering::Less,
                Some((&b, tail)) if b == SEPARATOR => rest = tail,
                Some((&b, _)) => return b.cmp(&SEPARATOR),
            }
        }
        let part = part.as_bytes();
        let (head, tail) = rest.split_at(part.len().min(rest.len()));
        match head.cmp(part) {
            Ordering::Equal => rest = tail,
            unequal => return unequal,
        }
    }
    if rest.is_empty() {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

fn find<V>(leaf: &Leaf<V>, Path(hash): Path, key: &[&str]) -> Result<usize, usize> {
    leaf.binary_search_by(|(h, k, _)| h.cmp(&hash).then_with(|| cmp_parts(k, key)))
}

/// A key's parts, hashed as the bytes of their joined form fed in fixed-size chunks: the same
/// hash whether a key comes as its parts or as one stored (joined) string, without relying on
/// how a hasher treats a stream split across calls.
struct Joined<'a>(&'a [&'a str]);

impl std::hash::Hash for Joined<'_> {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        let mut chunks = Chunks {
            hasher,
            chunk: [0; 64],
            filled: 0,
        };
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                chunks.push(&[SEPARATOR]);
            }
            chunks.push(part.as_bytes());
        }
        chunks
            .hasher
            .write(chunks.chunk.get(..chunks.filled).unwrap_or_default());
    }
}

struct Chunks<'h, H> {
    hasher: &'h mut H,
    chunk: [u8; 64],
    filled: usize,
}

impl<H: Hasher> Chunks<'_, H> {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = self.chunk.get_mut(self.filled..).unwrap_or_default();
            let n = room.len().min(bytes.len());
            let (now, later) = bytes.split_at(n);
            if let Some(dest) = room.get_mut(..n) {
                dest.copy_from_slice(now);
            }
            bytes = later;
            self.filled += n;
            if self.filled == self.chunk.len() {
                self.hasher.write(&self.chunk);
                self.filled = 0;
            }
        }
    }
}

/// Whether a stored (joined) key is the key given as `parts`.
pub(crate) fn key_is(stored: &str, parts: &[&str]) -> bool {
    cmp_parts(stored, parts) == Ordering::Equal
}

/// The key joined into the form a leaf stores.
pub(crate) fn join_key(parts: &[&str]) -> Arc<str> {
    let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut joined = String::with_capacity(len);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            joined.push(char::from(SEPARATOR));
        }
        joined.push_str(part);
    }
    Arc::from(joined)
}

impl<V: Clone> CowMap<V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn path(&self, key: &[&str]) -> Path {
        Path(self.hasher.hash_one(Joined(key)))
    }

    fn leaf_at(&self, path: Path) -> Option<&Leaf<V>> {
        let [a, b, c] = path.slots();
        self.root
            .get(a)?
            .as_deref()?
            .get(b)?
            .as_deref()?
            .get(c)?
            .as_deref()
    }

    pub(crate) fn get(&self, key: &[&str]) -> Option<&V> {
        let path = self.path(key);
        let leaf = self.leaf_at(path)?;
        leaf.get(find(leaf, path, key).ok()?).map(|(_, _, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &[&str]) -> bool {
        self.get(key).is_some()
    }

    /// The leaf at `path`, copied (with the tables above it) first if a snapshot shares it.
    fn leaf_mut(&mut self, path: Path) -> Option<&mut Leaf<V>> {
        let [a, b, c] = path.slots();
        let root = Arc::make_mut(&mut self.root);
        let mid = child_mut(root, a, empty_table)?;
        let low = child_mut(mid, b, empty_table)?;
        child_mut(low, c, Vec::new)
    }

    /// Shows `f` the entry at `key` (if any) and writes what it decides, hashing and searching
    /// for the key once. [`Write::Keep`] copies nothing. Returns the value replaced or removed.
    pub(crate) fn update(
        &mut self,
        key: &[&str],
        f: impl FnOnce(Option<&V>) -> Write<V>,
    ) -> Option<V> {
        let path = self.path(key);
        let found = self.leaf_at(path).map(|leaf| find(leaf, path, key));
        let current = match found {
            Some(Ok(at)) => self
                .leaf_at(path)
                .and_then(|leaf| leaf.get(at))
                .map(|(_, _, v)| v),
            _ => None,
        };
        let write = f(current);
        let (found, write) = match (found, write) {
            (_, Write::Keep) | (None | Some(Err(_)), Write::Remove) => return None,
            (found, write) => (found.unwrap_or(Err(0)), write),
        };
        let leaf = self.leaf_mut(path)?;
        let (previous, added) = match (found, write) {
            (Ok(at), Write::Set(value)) => (
                leaf.get_mut(at)
                    .map(|(_, _, slot)| std::mem::replace(slot, value)),
                0,
            ),
            (Ok(at), Write::Remove) if at < leaf.len() => (Some(leaf.remove(at).2), -1),
            (Err(at), Write::Set(value)) if at <= leaf.len() => {
                leaf.insert(at, (path.0, join_key(key), value));
                (None, 1)
            }
            _ => (None, 0),
        };
        self.len = self.len.saturating_add_signed(added);
        previous
    }

    /// Inserts or replaces; returns the previous value.
    pub(crate) fn insert(&mut self, key: &[&str], value: V) -> Option<V> {
        self.update(key, |_| Write::Set(value))
    }

    /// Removes `key`; a map that does not hold it is left untouched (no copy).
    pub(crate) fn remove(&mut self, key: &[&str]) -> Option<V> {
        self.update(key, |_| Write::Remove)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> CowMap<usize> {
        let mut map = CowMap::default();
        for i in 0..10_000 {
            map.insert(&[&format!("k{i}")], i);
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
        assert_eq!(map.insert(&["k1"], 100), Some(1));
        assert_eq!(map.remove(&["k2"]), Some(2));
        assert_eq!(map.remove(&["k2"]), None);
        assert_eq!(map.remove(&["absent"]), None);
        map.insert(&["new"], 7);
        assert_eq!(
            (snapshot.get(&["k1"]), snapshot.get(&["k2"])),
            (Some(&1), Some(&2))
        );
        assert_eq!(snapshot.get(&["new"]), None);
        assert_eq!((map.get(&["k1"]), map.get(&["k2"])), (Some(&100), None));
        assert_eq!(map.get(&["new"]), Some(&7));
        assert_eq!((snapshot.len(), map.len()), (10_000, 10_000));
    }

    #[test]
    fn every_key_is_found_after_inserts_and_removes_in_any_order() {
        let mut map = CowMap::default();
        for i in (0..5_000).rev() {
            map.insert(&[&format!("k{i}")], i);
        }
        for i in (0..5_000).step_by(3) {
            assert_eq!(map.remove(&[&format!("k{i}")]), Some(i));
        }
        for i in 0..5_000 {
            let expected = (i % 3 != 0).then_some(i);
            assert_eq!(map.get(&[&format!("k{i}")]).copied(), expected, "k{i}");
        }
        assert_eq!(map.len(), 5_000 - 5_000_usize.div_ceil(3));
    }

    #[test]
    fn a_write_to_a_shared_map_copies_one_leaf_only() {
        let mut map = filled();
        let snapshot = map.clone();
        map.insert(&["k5"], 0);
        let (now, before) = (leaves(&map), leaves(&snapshot));
        assert_eq!(now.len(), before.len());
        let copied = now.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert_eq!(copied, 1);
    }

    #[test]
    fn removing_an_absent_key_copies_nothing() {
        let mut map = filled();
        let snapshot = map.clone();
        assert_eq!(map.remove(&["absent"]), None);
        assert!(Arc::ptr_eq(&map.root, &snapshot.root));
    }

    #[test]
    fn keys_given_as_parts_order_and_match_as_their_joined_form() {
        let keys: [&[&str]; 9] = [
            &["a"],
            &["a", ""],
            &["a", "b"],
            &["a", "b", "c"],
            &["ab"],
            &["ab", "c"],
            &["", "a"],
            &["b", "a"],
            &[""],
        ];
        for x in keys {
            for y in keys {
                let joined = join_key(y);
                assert_eq!(
                    cmp_parts(&joined, x),
                    (*joined).cmp(&*join_key(x)),
                    "{y:?} against {x:?}"
                );
            }
        }
        let mut map = CowMap::default();
        for (i, k) in keys.iter().enumerate() {
            map.insert(k, i);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.get(k), Some(&i), "{k:?}");
            assert_eq!(map.get(&[&join_key(k)]), Some(&i), "{k:?} joined");
        }
        assert_eq!(map.len(), keys.len());
        // Longer than one hashing chunk, with the separator on a chunk boundary.
        let (long, longer) = ("n".repeat(63), "m".repeat(130));
        map.insert(&[&long, &longer, "c"], 99);
        assert_eq!(map.get(&[&join_key(&[&long, &longer, "c"])]), Some(&99));
        assert_eq!(map.get(&[&long, &longer, "d"]), None);
    }

    #[test]
    fn an_update_that_keeps_the_entry_copies_nothing() {
        let mut map = filled();
        let snapshot = map.clone();
        let seen = map.update(&["k3"], |v| {
            assert_eq!(v, Some(&3));
            Write::Keep
        });
        assert_eq!(seen, None);
        assert!(Arc::ptr_eq(&map.root, &snapshot.root));
        assert_eq!(
            map.update(&["k3"], |v| Write::Set(v.map_or(0, |v| v + 1))),
            Some(3)
        );
        assert_eq!(map.get(&["k3"]), Some(&4));
        assert_eq!(snapshot.get(&["k3"]), Some(&3));
    }
}
