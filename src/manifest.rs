//! Reads Kubernetes manifests the way `kubectl` writes them: YAML or JSON, several documents per
//! file, `kind: List` wrappers, whole folders. Used by `check` and by snapshot topologies.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

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
    #[error("{location}: {message}")]
    Parse { location: Location, message: String },
}

/// Reads every path: files as they are, folders recursively (their `.yaml`, `.yml` and `.json`
/// files, in name order), `-` as standard input.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Document>, ManifestError> {
    read_tree(paths).map(|read| read.documents)
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
    let mut read = Manifests::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| ManifestError::Read {
                    path: "-".into(),
                    source,
                })?;
            read.documents.extend(parse("-", &text)?);
        } else if path.is_dir() {
            for file in files_in(path, &mut read.skipped)? {
                read.documents.extend(read_file(&file)?);
            }
        } else {
            read.documents.extend(read_file(path)?);
        }
    }
    Ok(read)
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

fn read_file(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: name.clone(),
        source,
    })?;
    parse(&name, &text)
}

/// Parses the text of one file. JSON (one or more values) when it starts with `{` or `[`,
/// YAML otherwise; empty documents are skipped, `kind: List` documents are unwrapped.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, ManifestError> {
    let at = |document, item| Location {
        file: file.to_owned(),
        document,
        item,
    };
    let mut values = Vec::new();
    if text.trim_start().starts_with(['{', '[']) {
        for (i, v) in serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .enumerate()
        {
            let v = v.map_err(|e| ManifestError::Parse {
                location: at(i + 1, None),
                message: format!("malformed JSON: {e}"),
            })?;
            values.push(v);
        }
    } else {
        for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
            let v = Value::deserialize(doc).map_err(|e| ManifestError::Parse {
                location: at(i + 1, None),
                message: format!("malformed YAML: {e}"),
            })?;
            values.push(v);
        }
    }

    let mut docs = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let document = i + 1;
        match value {
            Value::Null => {}
            Value::Object(_) => {
                if value.get("kind").and_then(Value::as_str) == Some("List") {
                    let items = match value.get("items") {
                        Some(Value::Array(items)) => items.clone(),
                        None | Some(Value::Null) => Vec::new(),
                        Some(_) => {
                            return Err(ManifestError::Parse {
                                location: at(document, None),
                                message: "`items` of a List must be a list".into(),
                            });
                        }
                    };
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
                        });
                    }
                } else {
                    docs.push(Document {
                        location: at(document, None),
                        value,
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
