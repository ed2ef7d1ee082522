//! Reads Kubernetes manifests the way `kubectl` writes them: YAML or JSON, several documents per
//! file, `kind: List` wrappers, whole folders. Used by `check` (with the position of every
//! field) and by snapshot topologies (without: they are large and nobody points into them).

mod positions;
mod yaml;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use positions::Tree;
pub use positions::{Position, Positions};
pub(crate) use yaml::options as yaml_options;

/// Where a document came from, for messages: `file.yaml (document 2, item 5)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The path as the user gave it, or `-` for standard input.
    pub file: String,
    /// 1-based position of the document in the file.
    pub document: usize,
    /// 1-based position inside a `kind: List` document.
    pub item: Option<usize>,
}

impl Location {
    /// Document `document` of `file`, or item `item` of that document when it is a List.
    pub(crate) fn new(file: &str, document: usize, item: Option<usize>) -> Location {
        Location {
            file: file.to_owned(),
            document,
            item,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {}", self.file, self.document)?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        f.write_str(")")
    }
}

/// One object read from a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub location: Location,
    pub value: Value,
    /// Where its fields are in the file; empty when read without positions.
    pub positions: Positions,
}

/// Whether to record where each field sits in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Values,
    WithPositions,
}

impl Document {
    /// `apiVersion` and `kind`, empty when missing.
    pub fn type_meta(&self) -> (&str, &str) {
        let s = |k| {
            self.value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        (s("apiVersion"), s("kind"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A JSON document does not parse.
    #[error("{location}: malformed JSON: {source}")]
    Json {
        location: Location,
        #[source]
        source: serde_json::Error,
    },
    /// A YAML document does not parse.
    #[error("{location}: malformed YAML: {source}")]
    Yaml {
        location: Location,
        #[source]
        source: YamlError,
    },
    /// A document parses, but is not a manifest (an object, or a List of objects).
    #[error("{location}: {message}")]
    Parse { location: Location, message: String },
}

/// Why a YAML document does not parse, from either YAML reader.
///
/// `Error` is written out rather than derived so that the source is serde-saphyr's error
/// itself, not the box around it: a caller can downcast to it.
#[derive(Debug)]
pub enum YamlError {
    /// The reader of manifests under review; the message names the line in the file, where the
    /// source counts from the document's start.
    Located {
        message: String,
        /// Boxed: serde-saphyr's error is large, and manifests are mostly well-formed.
        source: Box<serde_saphyr::Error>,
    },
    /// The snapshot reader.
    Values(serde_norway::Error),
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YamlError::Located { message, .. } => f.write_str(message),
            YamlError::Values(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for YamlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            YamlError::Located { source, .. } => Some(&**source),
            YamlError::Values(e) => Some(e),
        }
    }
}

/// Reads every path: files as they are, folders recursively (their `.yaml`, `.yml` and `.json`
/// files, in name order), `-` as standard input.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Document>, ManifestError> {
    read_tree_as(paths, Reading::Values).map(|read| read.documents)
}

/// What [`read_tree`] read, and what it passed over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    pub documents: Vec<Document>,
    /// Files inside the given folders that were not read: they are not `.yaml`, `.yml` or
    /// `.json`. (A file named on the command line is always read.)
    pub skipped: Vec<PathBuf>,
}

/// Like [`read_paths`], also naming the files of the folders that were not read.
pub fn read_tree(paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
    read_tree_as(paths, Reading::Values)
}

/// Like [`read_tree`], recording the position of every field for findings to point at.
pub fn read_tree_with_positions(paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
    read_tree_as(paths, Reading::WithPositions)
}

fn read_tree_as(paths: &[PathBuf], reading: Reading) -> Result<Manifests, ManifestError> {
    let mut read = Manifests::default();
    for path in paths {
        if path.as_os_str() == "-" {
            read.documents
                .extend(parse_as("-", &read_stdin()?, reading)?);
        } else if path.is_dir() {
            for file in files_in(path, &mut read.skipped)? {
                read.documents.extend(read_file(&file, reading)?);
            }
        } else {
            read.documents.extend(read_file(path, reading)?);
        }
    }
    Ok(read)
}

/// Hands the text of every path to `each`, one file at a time (so a large snapshot's text is
/// freed before the next file is read), in the order [`read_paths`] reads them: files as they
/// are, folders recursively, `-` as standard input.
pub fn each_text<E: From<ManifestError>>(
    paths: &[PathBuf],
    mut each: impl FnMut(&str, &str) -> Result<(), E>,
) -> Result<(), E> {
    each_source(paths, |source| match source {
        Source::Stdin => each("-", &read_stdin()?),
        Source::File(path) => each(&path.display().to_string(), &read_text(path)?),
    })
}

/// Where one file's text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    Stdin,
    File(&'a Path),
}

/// Hands every file `paths` name to `each` without reading it, in the order [`read_paths`]
/// reads them, for readers that stream a file instead of holding its text.
pub fn each_source<E: From<ManifestError>>(
    paths: &[PathBuf],
    mut each: impl FnMut(Source<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for path in paths {
        if path.as_os_str() == "-" {
            each(Source::Stdin)?;
        } else if path.is_dir() {
            for file in files_in(path, &mut Vec::new())? {
                each(Source::File(&file))?;
            }
        } else {
            each(Source::File(path))?;
        }
    }
    Ok(())
}

fn read_stdin() -> Result<String, ManifestError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| ManifestError::Read {
            path: "-".into(),
            source,
        })?;
    Ok(text)
}

fn read_text(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Whether [`parse`] reads `text` as JSON.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with(['{', '['])
}

/// The documents of one already parsed document of `file` (`document` is its 1-based index):
/// none for an empty one, the items of a `kind: List`, else the object itself; with the same
/// errors as [`parse`].
pub fn documents_of_value(
    file: &str,
    document: usize,
    value: Value,
) -> Result<Vec<Document>, ManifestError> {
    unwrap_lists(
        file,
        vec![Raw {
            document,
            value,
            tree: None,
        }],
    )
}

fn files_in(dir: &Path, skipped: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>, ManifestError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| ManifestError::Read {
            path: e.path().unwrap_or(dir).display().to_string(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let manifest = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest {
            files.push(entry.into_path());
        } else {
            skipped.push(entry.into_path());
        }
    }
    Ok(files)
}

fn read_file(path: &Path, reading: Reading) -> Result<Vec<Document>, ManifestError> {
    parse_as(&path.display().to_string(), &read_text(path)?, reading)
}

/// Parses the text of one file. JSON (one or more values) when it starts with `{` or `[`,
/// YAML 1.2 otherwise; empty documents are skipped (but counted), `kind: List` documents are
/// unwrapped.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    parse_as(file, text, Reading::Values)
}

/// Like [`parse`], recording the position of every field.
pub fn parse_with_positions(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    parse_as(file, text, Reading::WithPositions)
}

/// One document of a file, before `kind: List` is unwrapped.
struct Raw {
    document: usize,
    value: Value,
    tree: Option<Tree>,
}

fn parse_as(file: &str, text: &str, reading: Reading) -> Result<Vec<Document>, ManifestError> {
    let raws = if is_json(text) {
        read_json(file, text, reading)?
    } else {
        read_yaml(file, text, reading)?
    };
    unwrap_lists(file, raws)
}

/// A JSON document of `file` that does not parse.
pub(crate) fn json_error(file: &str, document: usize, source: serde_json::Error) -> ManifestError {
    ManifestError::Json {
        location: Location::new(file, document, None),
        source,
    }
}

fn yaml_error(file: &str, document: usize, source: YamlError) -> ManifestError {
    ManifestError::Yaml {
        location: Location::new(file, document, None),
        source,
    }
}

fn read_yaml(file: &str, text: &str, reading: Reading) -> Result<Vec<Raw>, ManifestError> {
    if reading == Reading::Values {
        return read_yaml_values(file, text);
    }
    let mut raws = Vec::new();
    for (i, chunk) in yaml::documents(text).into_iter().enumerate() {
        let document = i + 1;
        let located = yaml::located(chunk).map_err(|e| yaml_error(file, document, e))?;
        // A chunk holds one document; an empty one yields none and is skipped.
        raws.extend(located.into_iter().map(|(value, tree)| Raw {
            document,
            value,
            tree: Some(tree),
        }));
    }
    Ok(raws)
}

/// Snapshot files: large, written by `kubectl` from the operator's own cluster, and never
/// pointed into. serde_norway reads them in half the CPU time of serde-saphyr (measured on a
/// 10,000-MeshService snapshot), so they keep it; manifests under review, which come from pull
/// requests, are read by the memory-safe reader above.
fn read_yaml_values(file: &str, text: &str) -> Result<Vec<Raw>, ManifestError> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            Value::deserialize(doc)
                .map(|value| Raw {
                    document: i + 1,
                    value,
                    tree: None,
                })
                .map_err(|e| yaml_error(file, i + 1, YamlError::Values(e)))
        })
        .collect()
}

fn read_json(file: &str, text: &str, reading: Reading) -> Result<Vec<Raw>, ManifestError> {
    let mut raws = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut start = 0;
    while let Some(next) = stream.next() {
        let document = raws.len() + 1;
        let value = next.map_err(|e| json_error(file, document, e))?;
        let end = stream.byte_offset();
        let tree = match reading {
            Reading::Values => None,
            Reading::WithPositions => Some(json_positions(text, start, end)),
        };
        raws.push(Raw {
            document,
            value,
            tree,
        });
        start = end;
    }
    Ok(raws)
}

/// Positions for one JSON value at `text[start..end]`. JSON is YAML 1.2 in flow style, so the
/// YAML reader finds them; serde_json still reads the value itself (exact numbers, its
/// errors). Should the YAML reader refuse the text, every field points at the value's start.
fn json_positions(text: &str, start: usize, end: usize) -> Tree {
    // Start at the value's own line, so YAML columns are the file's columns.
    let raw = text.get(start..end).unwrap_or_default();
    let lead = raw.len() - raw.trim_start().len();
    let start = raw
        .get(..lead)
        .and_then(|ws| ws.rfind('\n'))
        .map_or(start, |i| start + i + 1);
    let before = text.get(..start).unwrap_or_default();
    let value = text.get(start..end).unwrap_or_default();
    let line_offset = before.matches('\n').count();
    let column_offset = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let fallback = || {
        let lead = value.len() - value.trim_start().len();
        let indent = value.get(..lead).map_or(0, |ws| ws.chars().count());
        Tree {
            at: Position {
                line: line_offset + 1,
                column: column_offset + indent + 1,
            },
            ..Tree::default()
        }
    };
    let chunk = yaml::Chunk {
        text: value,
        line_offset,
    };
    match yaml::located(chunk) {
        Ok(docs) if docs.len() == 1 && column_offset == 0 => docs
            .into_iter()
            .next()
            .map_or_else(fallback, |(_, tree)| tree),
        _ => fallback(),
    }
}

fn unwrap_lists(file: &str, raws: Vec<Raw>) -> Result<Vec<Document>, ManifestError> {
    let at = |document, item| Location::new(file, document, item);
    let positions = |tree: Option<&Tree>| tree.map(Tree::flatten).unwrap_or_default();
    let mut docs = Vec::new();
    for Raw {
        document,
        value,
        tree,
    } in raws
    {
        match value {
            Value::Null => {}
            Value::Object(mut object) => {
                if object.get("kind").and_then(Value::as_str) == Some("List") {
                    // Taken, not cloned: a snapshot is mostly one List, and a copy of its
                    // items would double the peak memory of loading it.
                    let items = match object.remove("items") {
                        Some(Value::Array(items)) => items,
                        None | Some(Value::Null) => Vec::new(),
                        Some(_) => {
                            return Err(ManifestError::Parse {
                                location: at(document, None),
                                message: "`items` of a List must be a list".into(),
                            });
                        }
                    };
                    docs.reserve(items.len());
                    let item_trees = tree.as_ref().and_then(|t| t.key("items"));
                    for (j, item) in items.into_iter().enumerate() {
                        if !item.is_object() {
                            return Err(ManifestError::Parse {
                                location: at(document, Some(j + 1)),
                                message: "a List item must be an object".into(),
                            });
                        }
                        docs.push(Document {
                            location: at(document, Some(j + 1)),
                            value: item,
                            positions: positions(item_trees.and_then(|t| t.item(j))),
                        });
                    }
                } else {
                    docs.push(Document {
                        location: at(document, None),
                        value: Value::Object(object),
                        positions: positions(tree.as_ref()),
                    });
                }
            }
            _ => {
                return Err(ManifestError::Parse {
                    location: at(document, None),
                    message: "a manifest document must be an object".into(),
                });
            }
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multi_document_yaml_and_lists() {
        let text = "---\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- kind: B\n- kind: C\n";
        let docs = parse("f.yaml", text).unwrap();
        let kinds: Vec<_> = docs.iter().map(|d| d.type_meta().1).collect();
        assert_eq!(kinds, ["A", "B", "C"]);
        assert_eq!(docs[2].location.to_string(), "f.yaml (document 3, item 2)");
    }

    #[test]
    fn positions_point_into_the_file_also_inside_lists() {
        let text =
            "kind: A\n---\napiVersion: v1\nkind: List\nitems:\n- kind: B\n  spec:\n    port: 1\n";
        let docs = parse_with_positions("f.yaml", text).unwrap();
        let b = &docs[1];
        assert_eq!(b.location.to_string(), "f.yaml (document 2, item 1)");
        let at = |p: &str| b.positions.of(&p.into()).map(|p| (p.line, p.column));
        assert_eq!(at(""), Some((6, 3)));
        assert_eq!(at("spec.port"), Some((8, 5)));
        assert_eq!(at("spec.hostname"), Some((7, 3)));
        assert!(parse("f.yaml", text).unwrap()[1].positions.is_empty());
    }

    #[test]
    fn json_documents_have_positions_too() {
        let text = "{\"kind\": \"A\"}\n{\n  \"kind\": \"B\",\n  \"spec\": {\"port\": 1}\n}\n";
        let docs = parse_with_positions("f.json", text).unwrap();
        let at = |p: &str| docs[1].positions.of(&p.into()).map(|p| (p.line, p.column));
        assert_eq!(at("spec"), Some((4, 3)));
        assert_eq!(at("spec.port"), Some((4, 12)));
        assert_eq!(docs[1].value["spec"]["port"], 1);
    }

    #[test]
    fn both_readers_agree_on_documents_lists_and_errors() {
        let text = "---\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- kind: B\n- {kind: C, on: yes}\n...\n---\n";
        let plain = parse("f.yaml", text).unwrap();
        let located = parse_with_positions("f.yaml", text).unwrap();
        let strip = |docs: Vec<Document>| -> Vec<(Location, Value)> {
            docs.into_iter().map(|d| (d.location, d.value)).collect()
        };
        assert_eq!(strip(plain), strip(located));
        for bad in ["kind: A\n---\nkind: [unclosed\n", "a: 1\n---\n---\n- x\n"] {
            let a = parse("b.yaml", bad).unwrap_err().to_string();
            let b = parse_with_positions("b.yaml", bad).unwrap_err().to_string();
            let head = |s: &str| s.split(": ").next().unwrap().to_owned();
            assert_eq!(head(&a), head(&b), "{a} / {b}");
        }
    }

    #[test]
    fn reads_json_streams() {
        let docs = parse("f.json", "{\"kind\":\"A\"}\n{\"kind\":\"B\"}").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].location.document, 2);
    }

    #[test]
    fn malformed_documents_are_named_by_file_and_index() {
        let err = parse("bad.yaml", "kind: A\n---\nkind: [unclosed\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.yaml (document 2): malformed YAML"),
            "{err}"
        );
        let err = parse("bad.json", "{\"kind\": \"A\"} {").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.json (document 2): malformed JSON"),
            "{err}"
        );
        let err = parse("s.yaml", "just a string\n").unwrap_err();
        assert!(err.to_string().contains("must be an object"), "{err}");
    }

    /// The error chain from the top: each error's text.
    fn chain(e: &dyn std::error::Error) -> Vec<String> {
        std::iter::successors(Some(e), |e| e.source())
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn parse_errors_keep_the_parsers_error() {
        let err = parse("bad.json", "{\"kind\": \"A\"} {").unwrap_err();
        let json = "EOF while parsing an object at line 1 column 15";
        assert!(matches!(err, ManifestError::Json { .. }), "{err:?}");
        assert_eq!(
            chain(&err),
            [
                format!("bad.json (document 2): malformed JSON: {json}"),
                json.into()
            ]
        );

        let bad = "kind: ConfigMap\n---\nkind: [oops\n";
        let err = parse("bad.yaml", bad).unwrap_err();
        let values = "did not find expected ',' or ']' at line 4 column 1, while parsing a flow \
                      sequence at line 3 column 7";
        let ManifestError::Yaml {
            source: source @ YamlError::Values(norway),
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            err.to_string(),
            format!("bad.yaml (document 2): malformed YAML: {values}")
        );
        assert_eq!(chain(source), [values, values]);
        assert_eq!(norway.location().map(|l| l.line()), Some(4));

        // Counted in the file, where serde-saphyr counts from the document's marker.
        let err = parse_with_positions("bad.yaml", bad).unwrap_err();
        let ManifestError::Yaml {
            source: source @ YamlError::Located { .. },
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        let located = "unclosed bracket '[' at line 3, column 7";
        assert_eq!(
            err.to_string(),
            format!("bad.yaml (document 2): malformed YAML: {located}")
        );
        let saphyr = std::error::Error::source(source);
        assert!(
            saphyr.is_some_and(|e| e.is::<serde_saphyr::Error>()),
            "{saphyr:?}"
        );
        assert_eq!(
            saphyr.map(ToString::to_string),
            Some("unclosed bracket '[' at line 2, column 7".to_owned())
        );
    }

    #[test]
    fn reads_folders_recursively_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.yaml"), "kind: B\n").unwrap();
        std::fs::write(dir.path().join("a.json"), "{\"kind\": \"A\"}").unwrap();
        std::fs::write(dir.path().join("sub/c.yml"), "kind: C\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "kind: X\n").unwrap();
        let docs = read_paths(&[dir.path().to_path_buf()]).unwrap();
        let kinds: Vec<_> = docs.iter().map(|d| d.type_meta().1).collect();
        assert_eq!(kinds, ["A", "B", "C"]);
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let err = read_paths(&["/nonexistent/x.yaml".into()]).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/x.yaml: "),
            "{err}"
        );
    }
}
