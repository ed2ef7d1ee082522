//! Finding the entries of a list that repeat an earlier one.
//!
//! By sorting borrowed keys rather than inserting them into a map: sorted by a fast hash
//! first, so that nearly every comparison is of two integers, then by the key itself, so that
//! equal hashes never make unequal keys equal. Whatever the input, that is O(n log n)
//! comparisons: keys crafted to collide only make the sort compare them as strings, where a
//! hash map would probe on and on. A string comparison reads at most the shorter key, so a
//! hostile body pays in proportion to its own size.

use std::hash::{BuildHasher, Hash};

/// For every entry whose key equals an earlier entry's, `(its index, the earliest index with
/// that key)`, in the order of the entries. `keyed` gives each entry that has a key with its
/// index; indices must be distinct.
pub(super) fn repeats<K: Ord + Hash>(
    keyed: impl IntoIterator<Item = (usize, K)>,
) -> Vec<(usize, usize)> {
    repeats_with(&foldhash::fast::RandomState::default(), keyed)
}

/// [`repeats`] with the hash `hasher` gives: any hash gives the same answer, a poor one only
/// more string comparisons.
fn repeats_with<K: Ord + Hash>(
    hasher: &impl BuildHasher,
    keyed: impl IntoIterator<Item = (usize, K)>,
) -> Vec<(usize, usize)> {
    let keyed: Vec<(K, usize)> = keyed.into_iter().map(|(i, k)| (k, i)).collect();
    // Sorted as (hash, position in `keyed`) pairs: moving 16 bytes where the keys are 50 or
    // more, and the keys read only when two hashes are equal. `keyed` is in index order and
    // its pairs compare by key then index, so equal keys end up side by side in index order
    // and the first of each run is the first seen.
    let mut order: Vec<(u64, usize)> = keyed
        .iter()
        .enumerate()
        .map(|(at, (k, _))| (hasher.hash_one(k), at))
        .collect();
    // Integers first, which sorts fastest; then, within each run of equal hashes (nearly
    // always a single entry), by key and position.
    order.sort_unstable();
    for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| keyed.get(a.1).cmp(&keyed.get(b.1)));
        }
    }
    let mut out = Vec::new();
    let mut run: Option<(u64, &(K, usize))> = None;
    for (hash, at) in order {
        let Some(entry) = keyed.get(at) else {
            continue;
        };
        match run {
            Some((first_hash, first)) if first_hash == hash && first.0 == entry.0 => {
                out.push((entry.1, first.1))
            }
            _ => run = Some((hash, entry)),
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::*;

    /// The plain version: remember where each key was first seen.
    fn simple(keys: &[Option<(String, String, String)>]) -> Vec<(usize, usize)> {
        let mut first_seen = HashMap::new();
        let mut out = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(key) = key {
                match first_seen.get(key) {
                    Some(&j) => out.push((i, j)),
                    None => {
                        first_seen.insert(key, i);
                    }
                }
            }
        }
        out
    }

    fn sorted_version(keys: &[Option<(String, String, String)>]) -> Vec<(usize, usize)> {
        repeats(keys.iter().enumerate().filter_map(|(i, k)| {
            k.as_ref()
                .map(|(a, b, c)| (i, (a.as_str(), b.as_str(), c.as_str())))
        }))
    }

    /// Keys from a small alphabet, so repeats are common, including ones that differ only in
    /// where one part ends and the next begins.
    fn key() -> impl Strategy<Value = Option<(String, String, String)>> {
        prop::option::weighted(
            0.9,
            ("[ab]{0,2}", "[ab]{0,2}", "[ab]{0,1}").prop_map(|(a, b, c)| (a, b, c)),
        )
    }

    /// A hash under which every key collides, as keys crafted against a known hash would.
    #[derive(Default)]
    struct Colliding;

    impl BuildHasher for Colliding {
        type Hasher = Constant;
        fn build_hasher(&self) -> Constant {
            Constant
        }
    }

    struct Constant;

    impl std::hash::Hasher for Constant {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    proptest! {
        #[test]
        fn finds_the_repeats_the_plain_version_finds(
            keys in prop::collection::vec(key(), 0..200),
        ) {
            prop_assert_eq!(sorted_version(&keys), simple(&keys));
        }

        #[test]
        fn finds_the_same_repeats_when_every_hash_collides(
            keys in prop::collection::vec(key(), 0..200),
        ) {
            let colliding = repeats_with(&Colliding, keys.iter().enumerate().filter_map(|(i, k)| {
                k.as_ref().map(|(a, b, c)| (i, (a.as_str(), b.as_str(), c.as_str())))
            }));
            prop_assert_eq!(colliding, simple(&keys));
        }
    }

    #[test]
    fn finds_the_repeats_the_plain_version_finds_at_ten_thousand_entries() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let keys = prop::collection::vec(key(), 10_000)
            .new_tree(&mut runner)
            .expect("a generated list")
            .current();
        assert_eq!(keys.len(), 10_000);
        let expected = simple(&keys);
        assert!(expected.len() > 5_000, "few repeats: {}", expected.len());
        assert_eq!(sorted_version(&keys), expected);

        // All distinct, as in a large valid list, and then every entry the same.
        let distinct: Vec<_> = (0..10_000)
            .map(|i| Some((format!("checkout-{i}"), "shop".to_owned(), "c".to_owned())))
            .collect();
        assert_eq!(sorted_version(&distinct), vec![]);
        let same = vec![Some(("a".to_owned(), "b".to_owned(), "c".to_owned())); 10_000];
        let expected: Vec<_> = (1..10_000).map(|i| (i, 0)).collect();
        assert_eq!(sorted_version(&same), expected);
        assert_eq!(simple(&same), expected);
    }
}
