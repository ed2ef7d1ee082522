//! YAML 1.2 reading with serde-saphyr (pure Rust, no `unsafe`, budgets against hostile input).
//!
//! The stream is cut at its document markers first and each document is parsed on its own, so
//! a document is named by its index in the file even when it is empty (serde-saphyr drops empty
//! documents from a stream), and a parse error names the document it is in.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{Budget, NonFiniteFloatPolicy, Options, SnippetMode, Spanned};

use super::YamlError;
use super::positions::{Children, Position, Tree};

/// One document of a YAML stream, with where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk<'a> {
    pub(crate) text: &'a str,
    /// Lines of the file before `text`.
    pub(crate) line_offset: usize,
}

/// Whether a line is the marker `marker` (`---` or `...`): at column 0 and followed by a
/// space, a tab or the end of the line. YAML forbids such a line inside any node, quoted or
/// block scalars included, so it always separates documents.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line holds content: not blank, not only a comment.
fn has_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Cuts a YAML stream into its documents, counted as YAML counts them: `---` starts one (even
/// an empty one), content after `...` or at the start of the stream starts one implicitly, and
/// comments, directives and blank lines alone are none.
pub(crate) fn documents(text: &str) -> Vec<Chunk<'_>> {
    let mut out: Vec<Chunk<'_>> = Vec::new();
    let mut start = 0; // byte offset of the current chunk
    let mut start_line = 0;
    let mut explicit = false; // opened by `---`
    let mut content = false; // holds a node
    let mut offset = 0;
    fn emit<'a>(text: &'a str, from: usize, to: usize, line: usize, out: &mut Vec<Chunk<'a>>) {
        if let Some(text) = text.get(from..to) {
            out.push(Chunk {
                text,
                line_offset: line,
            });
        }
    }
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let end = offset + line.len();
        if is_marker(line, "---") {
            if explicit || content {
                emit(text, start, offset, start_line, &mut out);
                start = offset;
                start_line = n;
            }
            // Comments and directives before the first `---` belong to its document.
            explicit = true;
            content = line.get(3..).is_some_and(has_content);
        } else if is_marker(line, "...") {
            if explicit || content {
                emit(text, start, end, start_line, &mut out);
            }
            start = end;
            start_line = n + 1;
            explicit = false;
            content = false;
        } else if has_content(line) && !(line.starts_with('%') && !explicit && !content) {
            content = true;
        }
        offset = end;
    }
    if explicit || content {
        emit(text, start, text.len(), start_line, &mut out);
    }
    out
}

/// Budgets that grow with the input: every parser event and node costs input bytes, so a
/// large snapshot is read whole, while alias expansion (the "billion laughs") stays capped
/// by serde-saphyr's own alias limits whatever the size.
pub(crate) fn options(input_len: usize) -> Options {
    let mut budget = Budget::default();
    budget.max_events = budget.max_events.max(input_len.saturating_mul(4));
    budget.max_nodes = budget.max_nodes.max(input_len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(input_len);
    let mut options = Options::default();
    options.budget = Some(budget);
    // YAML 1.2: only `true`/`false` are booleans, `on`/`yes`/`no` stay strings.
    options.strict_booleans = true;
    // `.inf`/`.nan` become JSON null, as JSON has no such numbers.
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    options.with_snippet = false;
    options
}

fn message(err: &serde_saphyr::Error, chunk: Chunk<'_>) -> String {
    err.render_with_options(serde_saphyr::render_options! {
        snippets: SnippetMode::Off,
        line_offset: chunk.line_offset as u64,
    })
}

/// The values of one document with the position of every key and item.
pub(crate) fn located(chunk: Chunk<'_>) -> Result<Vec<(Value, Tree)>, YamlError> {
    let docs: Vec<Spanned<Located>> =
        serde_saphyr::from_multiple_with_options(chunk.text, options(chunk.text.len())).map_err(
            |e| YamlError::Located {
                message: message(&e, chunk),
                source: Box::new(e),
            },
        )?;
    Ok(docs
        .into_iter()
        .map(|doc| {
            let mut tree = doc.value.tree;
            tree.at = Position::from_location(&doc.referenced);
            tree.shift(chunk.line_offset);
            (doc.value.value, tree)
        })
        .collect())
}

impl Tree {
    fn shift(&mut self, lines: usize) {
        self.at.line = self.at.line.saturating_add(lines);
        match &mut self.children {
            Children::None => {}
            Children::Map(entries) => entries.iter_mut().for_each(|(_, t)| t.shift(lines)),
            Children::Seq(items) => items.iter_mut().for_each(|t| t.shift(lines)),
        }
    }
}

/// A JSON value read from YAML together with the positions of its keys and items. Its own
/// position is set by whoever holds it (the key's, for a mapping entry).
struct Located {
    value: Value,
    tree: Tree,
}

impl Located {
    fn scalar(value: Value) -> Located {
        Located {
            value,
            tree: Tree::default(),
        }
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Located, D::Error> {
        d.deserialize_any(LocatedVisitor)
    }
}

struct LocatedVisitor;

impl<'de> Visitor<'de> for LocatedVisitor {
    type Value = Located;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_unit<E>(self) -> Result<Located, E> {
        Ok(Located::scalar(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Located, E> {
        Ok(Located::scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Located, D::Error> {
        Located::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Located, E> {
        Ok(Located::scalar(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Located, E> {
        Ok(Located::scalar(Value::Number(v.into())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Located, E> {
        Ok(Located::scalar(Value::Number(v.into())))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Located, E> {
        Ok(Located::scalar(match i64::try_from(v) {
            Ok(v) => Value::Number(v.into()),
            Err(_) => number_f64(v as f64),
        }))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Located, E> {
        Ok(Located::scalar(match u64::try_from(v) {
            Ok(v) => Value::Number(v.into()),
            Err(_) => number_f64(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Located, E> {
        Ok(Located::scalar(number_f64(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Located, E> {
        Ok(Located::scalar(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Located, E> {
        Ok(Located::scalar(Value::String(v)))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Located, E> {
        Ok(Located::scalar(Value::String(
            String::from_utf8_lossy(v).into_owned(),
        )))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Located, A::Error> {
        let mut values = Vec::new();
        let mut trees = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Located>>()? {
            let mut tree = item.value.tree;
            tree.at = Position::from_location(&item.referenced);
            values.push(item.value.value);
            trees.push(tree);
        }
        Ok(Located {
            value: Value::Array(values),
            tree: Tree {
                at: Position::default(),
                children: Children::Seq(trees),
            },
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Located, A::Error> {
        let mut values = Map::new();
        let mut trees = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let entry = map.next_value::<Located>()?;
            let mut tree = entry.tree;
            tree.at = Position::from_location(&key.referenced);
            trees.push((key.value.clone(), tree));
            values.insert(key.value, entry.value);
        }
        Ok(Located {
            value: Value::Object(values),
            tree: Tree {
                at: Position::default(),
                children: Children::Map(trees),
            },
        })
    }
}

/// As `serde_json::Value` reads a float: a non-finite one becomes null.
fn number_f64(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<(usize, &str)> {
        documents(s)
            .into_iter()
            .map(|c| (c.line_offset, c.text))
            .collect()
    }

    #[test]
    fn documents_are_cut_at_markers_and_counted_as_yaml_counts_them() {
        assert_eq!(
            texts("---\nkind: A\n---\n# only a comment\n---\nkind: B\n"),
            [
                (0, "---\nkind: A\n"),
                (2, "---\n# only a comment\n"),
                (4, "---\nkind: B\n")
            ]
        );
        assert_eq!(
            texts("# header\n---\na: 1\n"),
            [(0, "# header\n---\na: 1\n")]
        );
        assert_eq!(
            texts("a: 1\n...\n# trailing\n"),
            [(0, "a: 1\n...\n")],
            "comments after `...` are no document"
        );
        assert_eq!(
            texts("a: 1\n...\nb: 2\n"),
            [(0, "a: 1\n...\n"), (2, "b: 2\n")]
        );
        assert_eq!(
            texts("--- {a: 1}\n---\n"),
            [(0, "--- {a: 1}\n"), (1, "---\n")]
        );
        assert!(texts("").is_empty());
        assert!(texts("# nothing\n\n").is_empty());
    }

    #[test]
    fn a_marker_needs_a_separator_after_it() {
        assert_eq!(texts("a: |\n  ---x\n----\n").len(), 1);
        assert_eq!(texts("a: 1\n---\t# c\nb: 2\n").len(), 2);
        assert_eq!(texts("a: 1\r\n---\r\nb: 2\r\n").len(), 2);
    }

    #[test]
    fn directives_belong_to_the_next_document() {
        assert_eq!(
            texts("%YAML 1.2\n---\na: 1\n"),
            [(0, "%YAML 1.2\n---\na: 1\n")]
        );
    }

    #[test]
    fn yaml_1_2_keeps_on_and_yes_as_strings() {
        let v: Vec<Value> =
            located(documents("a: on\nb: yes\nc: no\nd: true\ne: 0x10\nf: ~\ng: .inf\n")[0])
                .unwrap()
                .into_iter()
                .map(|(v, _)| v)
                .collect();
        assert_eq!(
            v,
            [
                serde_json::json!({"a": "on", "b": "yes", "c": "no", "d": true, "e": 16, "f": null, "g": null})
            ]
        );
    }

    #[test]
    fn located_values_carry_key_and_item_positions_in_file_lines() {
        let text = "kind: A\n---\n# c\nspec:\n  port: {port: 1}\n  list:\n  - name: x\n  - y\n";
        let chunk = documents(text)[1];
        let (value, tree) = located(chunk).unwrap().remove(0);
        assert_eq!(
            value,
            serde_json::json!({"spec": {"port": {"port": 1}, "list": [{"name": "x"}, "y"]}})
        );
        let spec = tree.key("spec").unwrap();
        assert_eq!(spec.at, Position { line: 4, column: 1 });
        let port = spec.key("port").unwrap();
        assert_eq!(port.at, Position { line: 5, column: 3 });
        assert_eq!(
            port.key("port").unwrap().at,
            Position {
                line: 5,
                column: 10
            }
        );
        let list = spec.key("list").unwrap();
        assert_eq!(list.item(0).unwrap().at, Position { line: 7, column: 5 });
        assert_eq!(list.item(1).unwrap().at, Position { line: 8, column: 5 });
    }

    #[test]
    fn errors_name_the_line_in_the_file() {
        let chunk = documents("kind: A\n---\nkind: [unclosed\n")[1];
        let err = located(chunk).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = located(documents(&text)[0]).unwrap_err().to_string();
        assert!(err.contains("alias") || err.contains("budget"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let err = located(documents("a: 1\na: 2\n")[0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate"), "{err}");
    }
}
