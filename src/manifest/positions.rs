//! Where each field of a document sits in its source file, so a finding can point at the line
//! an editor or a CI annotation should open.

use serde::Serialize;

use crate::finding::FieldPath;

/// A 1-based line and column (in characters) in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    pub(crate) fn from_location(at: &serde_saphyr::Location) -> Position {
        Position {
            line: usize::try_from(at.line()).unwrap_or(usize::MAX),
            column: usize::try_from(at.column()).unwrap_or(usize::MAX),
        }
    }
}

/// The position of every key and list item of one document, by field path. A sorted list:
/// every document carries one, most (snapshots) empty, so it costs no more than a `Vec` when
/// empty and is searched by bisection when not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    by_path: Vec<(FieldPath, Position)>,
}

impl Positions {
    /// The position of `field`'s key; for a field that is not in the source (a required field
    /// left out), that of its nearest ancestor that is. `None` only when nothing was recorded.
    pub fn of(&self, field: &FieldPath) -> Option<Position> {
        if let Some(at) = self.get(field) {
            return Some(at);
        }
        let path = field.as_str();
        // Ancestors end where a `.key` or `[index]` segment starts. A bracketed key holding a
        // `.` or `[` yields extra candidates, which are simply not found.
        path.char_indices()
            .rev()
            .filter(|(_, c)| matches!(c, '.' | '['))
            .find_map(|(i, _)| path.get(..i).and_then(|p| self.get(&FieldPath::from(p))))
            .or_else(|| self.get(&FieldPath::root()))
    }

    fn get(&self, field: &FieldPath) -> Option<Position> {
        self.by_path
            .binary_search_by(|(p, _)| p.cmp(field))
            .ok()
            .and_then(|i| self.by_path.get(i))
            .map(|(_, at)| *at)
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

/// The positions of one node and its descendants, in the shape of the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tree {
    /// For a mapping entry the key's position, for a list item the item's, for a document its
    /// first node's.
    pub(crate) at: Position,
    pub(crate) children: Children,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Children {
    #[default]
    None,
    Map(Vec<(String, Tree)>),
    Seq(Vec<Tree>),
}

impl Tree {
    pub(crate) fn key(&self, key: &str) -> Option<&Tree> {
        match &self.children {
            Children::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, t)| t),
            _ => None,
        }
    }

    pub(crate) fn item(&self, index: usize) -> Option<&Tree> {
        match &self.children {
            Children::Seq(items) => items.get(index),
            _ => None,
        }
    }

    /// Every position under this node, keyed by the field paths the rules report.
    pub(crate) fn flatten(&self) -> Positions {
        let mut by_path = Vec::new();
        self.flatten_into(FieldPath::root(), &mut by_path);
        by_path.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Positions { by_path }
    }

    fn flatten_into(&self, path: FieldPath, out: &mut Vec<(FieldPath, Position)>) {
        match &self.children {
            Children::None => {}
            Children::Map(entries) => {
                for (key, child) in entries {
                    child.flatten_into(path.key(key), out);
                }
            }
            Children::Seq(items) => {
                for (i, child) in items.iter().enumerate() {
                    child.flatten_into(path.index(i), out);
                }
            }
        }
        out.push((path, self.at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    fn leaf(line: usize, column: usize) -> Tree {
        Tree {
            at: at(line, column),
            children: Children::None,
        }
    }

    fn sample() -> Positions {
        Tree {
            at: at(1, 1),
            children: Children::Map(vec![(
                "spec".into(),
                Tree {
                    at: at(5, 1),
                    children: Children::Map(vec![
                        ("port".into(), leaf(6, 3)),
                        (
                            "failoverServices".into(),
                            Tree {
                                at: at(7, 3),
                                children: Children::Seq(vec![leaf(8, 7), leaf(10, 7)]),
                            },
                        ),
                    ]),
                },
            )]),
        }
        .flatten()
    }

    #[test]
    fn a_present_field_is_at_its_key() {
        let p = sample();
        assert_eq!(p.of(&"spec.port".into()), Some(at(6, 3)));
        assert_eq!(p.of(&"spec.failoverServices[1]".into()), Some(at(10, 7)));
        assert_eq!(p.of(&FieldPath::root()), Some(at(1, 1)));
    }

    #[test]
    fn a_missing_field_is_at_its_nearest_present_ancestor() {
        let p = sample();
        assert_eq!(p.of(&"spec.hostname".into()), Some(at(5, 1)));
        assert_eq!(p.of(&"spec.port.protocol".into()), Some(at(6, 3)));
        assert_eq!(
            p.of(&"spec.failoverServices[1].cluster".into()),
            Some(at(10, 7))
        );
        assert_eq!(p.of(&"spec.failoverServices[7]".into()), Some(at(7, 3)));
        assert_eq!(p.of(&"status.state".into()), Some(at(1, 1)));
        assert_eq!(p.of(&"spec[a.b/c]".into()), Some(at(5, 1)));
    }

    #[test]
    fn nothing_recorded_has_no_position() {
        assert_eq!(Positions::default().of(&"spec".into()), None);
    }
}
