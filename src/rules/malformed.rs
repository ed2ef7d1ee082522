//! Which paths the rules may read: [`Decoded::is_malformed`] answered in logarithmic time.
//!
//! The rules ask about every entry of `spec.failoverServices` and each of its fields. Asking
//! `Decoded::is_malformed` compares the path with every malformed one, so a list whose every
//! entry has a mistyped field (a body of a few MiB holds hundreds of thousands) would cost the
//! product of the two. Here the malformed paths are sorted once and a path is looked up by its
//! own prefixes, of which it has a handful.

use crate::decode::Decoded;
use crate::finding::FieldPath;

/// The malformed paths of one decoded object, sorted for lookup.
pub(super) struct Malformed<'d> {
    sorted: Vec<&'d str>,
}

impl<'d> Malformed<'d> {
    pub(super) fn of(d: &'d Decoded) -> Malformed<'d> {
        let mut sorted: Vec<&str> = d.malformed.iter().map(FieldPath::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        Malformed { sorted }
    }

    /// Whether `path` or one of its parents held a value of the wrong type: the answer of
    /// [`Decoded::is_malformed`]. A parent is a prefix of the path that ends where a key
    /// (`.`) or an index or bracketed key (`[`) begins; the empty path is everyone's parent.
    pub(super) fn covers(&self, path: &str) -> bool {
        if self.sorted.is_empty() {
            return false;
        }
        let bounds = path
            .char_indices()
            .filter(|&(_, c)| c == '.' || c == '[')
            .map(|(at, _)| at);
        std::iter::once(0)
            .chain(bounds)
            .chain(std::iter::once(path.len()))
            .filter_map(|end| path.get(..end))
            .any(|parent| self.sorted.binary_search(&parent).is_ok())
    }

    /// Like [`Malformed::covers`] with the path built by `path`, which is called only when some
    /// path is malformed: in the usual object, where none is, no path is built at all.
    #[inline]
    pub(super) fn covers_built(&self, path: impl FnOnce() -> FieldPath) -> bool {
        !self.sorted.is_empty() && self.covers(path().as_str())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn decoded_with(malformed: &[&str]) -> Decoded {
        let mut d = crate::decode::decode(&serde_json::json!({}));
        d.malformed = malformed.iter().map(|&m| FieldPath::from(m)).collect();
        d
    }

    #[test]
    fn a_path_is_covered_by_itself_and_its_parents_only() {
        let d = decoded_with(&["spec.failoverServices[1]", "spec.port.name"]);
        let m = Malformed::of(&d);
        for covered in [
            "spec.failoverServices[1]",
            "spec.failoverServices[1].name",
            "spec.failoverServices[1][x]",
            "spec.port.name",
        ] {
            assert!(m.covers(covered), "{covered}");
        }
        for readable in [
            "",
            "spec",
            "spec.failoverServices",
            "spec.failoverServices[10]",
            "spec.failoverServices[0].name",
            "spec.port",
            "spec.port.names",
            "spec.port.port",
        ] {
            assert!(!m.covers(readable), "{readable}");
        }
        assert!(Malformed::of(&decoded_with(&[""])).covers("spec.hostname"));
        assert!(!Malformed::of(&decoded_with(&[])).covers(""));
    }

    #[test]
    fn no_path_is_built_when_none_is_malformed() {
        let d = decoded_with(&[]);
        assert!(!Malformed::of(&d).covers_built(|| unreachable!("built a path")));
        let d = decoded_with(&["spec.failoverServices[3]"]);
        let m = Malformed::of(&d);
        assert!(m.covers_built(|| FieldPath::from("spec.failoverServices[3].cluster")));
        assert!(!m.covers_built(|| FieldPath::from("spec.failoverServices[30]")));
    }

    /// Path pieces chosen so that prefixes of one another, separators inside brackets and
    /// empty keys all occur.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("spec".to_owned()),
            Just("failoverServices".to_owned()),
            Just("failoverService".to_owned()),
            Just("name".to_owned()),
            Just("a.b".to_owned()),
            Just("[".to_owned()),
            (0usize..12).prop_map(|i| format!("[{i}]")),
            "[a-z.\\[\\]0-9]{0,4}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop::collection::vec((piece(), prop::bool::ANY), 0..5).prop_map(|parts| {
            parts.into_iter().fold(String::new(), |mut p, (part, dot)| {
                if dot && !p.is_empty() {
                    p.push('.');
                }
                p.push_str(&part);
                p
            })
        })
    }

    proptest! {
        #[test]
        fn answers_as_decoded_does(
            malformed in prop::collection::vec(path(), 0..6),
            asked in prop::collection::vec(path(), 1..12),
        ) {
            let refs: Vec<&str> = malformed.iter().map(String::as_str).collect();
            let d = decoded_with(&refs);
            let m = Malformed::of(&d);
            for p in asked.iter().chain(&malformed) {
                prop_assert_eq!(m.covers(p), d.is_malformed(&FieldPath::from(p.as_str())), "{:?}", p);
            }
        }
    }

    #[test]
    fn answers_as_decoded_does_for_a_list_of_ten_thousand_mistyped_entries() {
        let malformed: Vec<String> = (0..10_000)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("spec.failoverServices[{i}].name"))
            .collect();
        let refs: Vec<&str> = malformed.iter().map(String::as_str).collect();
        let d = decoded_with(&refs);
        let m = Malformed::of(&d);
        for i in (0..10_000).step_by(7) {
            for field in ["", ".name", ".namespace", ".name.x"] {
                let p = format!("spec.failoverServices[{i}]{field}");
                assert_eq!(
                    m.covers(&p),
                    d.is_malformed(&FieldPath::from(p.as_str())),
                    "{p}"
                );
            }
        }
    }
}
