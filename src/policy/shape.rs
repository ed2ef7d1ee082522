//! `UnknownField` and `TypeMismatch` in CEL, generated from the shape table [`crate::decode`]
//! reads objects with, so a field added there is judged here too.

use super::cel::{get, has, int64_string_pattern, lit, lit_list};
use crate::api::State;
use crate::decode::{OBJECT, Shape, expected};

/// True when no key anywhere in the object is one the API does not define.
pub(crate) fn no_unknown_field() -> String {
    all_known("object", &OBJECT)
}

/// True when every value the API defines has its JSON type.
pub(crate) fn no_type_mismatch() -> String {
    all_typed("object", &OBJECT)
}

fn all_known(v: &str, shape: &Shape) -> String {
    match shape {
        Shape::Object(fields) => {
            let names = lit_list(fields.iter().map(|(n, _)| *n));
            let mut parts = vec![format!("{v}.all(k, k in {names})")];
            for (name, child) in fields.iter() {
                if has_structure(child) {
                    parts.push(format!(
                        "(!({}) || {})",
                        has(v, name),
                        all_known(&get(v, name), child)
                    ));
                }
            }
            format!("(type({v}) != map || ({}))", parts.join(" && "))
        }
        Shape::Array(item) => {
            let x = format!("x{}", depth(v));
            format!(
                "(type({v}) != list || {v}.all({x}, {}))",
                all_known(&x, item)
            )
        }
        _ => "true".to_owned(),
    }
}

fn all_typed(v: &str, shape: &Shape) -> String {
    let own = type_ok(v, shape);
    match shape {
        Shape::Object(fields) => {
            let children: Vec<String> = fields
                .iter()
                .map(|(name, child)| {
                    format!(
                        "(!({}) || {})",
                        has(v, name),
                        all_typed(&get(v, name), child)
                    )
                })
                .collect();
            format!(
                "({own} && (type({v}) != map || ({})))",
                children.join(" && ")
            )
        }
        Shape::Array(item) => {
            let x = format!("x{}", depth(v));
            format!(
                "({own} && (type({v}) != list || {v}.all({x}, {})))",
                all_typed(&x, item)
            )
        }
        _ => own,
    }
}

/// A name for a comprehension variable that does not shadow an enclosing one.
fn depth(v: &str) -> usize {
    v.matches('[').count() + v.matches(".all(").count()
}

fn has_structure(shape: &Shape) -> bool {
    matches!(shape, Shape::Object(_) | Shape::Array(_))
}

/// The value `v` has the JSON type of `shape` (or is `null`, which proto3 reads as unset).
fn type_ok(v: &str, shape: &Shape) -> String {
    let t = |name: &str| format!("type({v}) == {name}");
    let alternatives = match shape {
        Shape::Any => return "true".to_owned(),
        Shape::String => vec![t("string")],
        Shape::Number => vec![t("int"), t("double")],
        Shape::Int64 => vec![
            t("int"),
            format!(
                "({} && {v}.matches({}))",
                t("string"),
                lit(&int64_string_pattern())
            ),
        ],
        Shape::State => vec![
            format!(
                "({} && {v} in {})",
                t("string"),
                lit_list(State::ALL.iter().map(|s| s.as_str()))
            ),
            format!(
                "({} && {v} >= 0 && {v} <= {})",
                t("int"),
                State::ALL.len() - 1
            ),
        ],
        Shape::Object(_) => vec![t("map")],
        Shape::Array(_) => vec![t("list")],
    };
    format!("({} || {})", t("null_type"), alternatives.join(" || "))
}

/// The message of the first unknown key found, in the engine's words (without its "did you
/// mean" suggestion: the similarity score that picks it has no CEL counterpart).
pub(crate) fn unknown_field_message() -> String {
    let mut lists = Vec::new();
    unknown_messages("object", "''", &OBJECT, &mut lists);
    first_of(lists, "a key the API does not define")
}

/// The message of the first value of the wrong type found, in the engine's words.
pub(crate) fn type_mismatch_message() -> String {
    let mut lists = Vec::new();
    mismatch_messages("object", "''", &OBJECT, &mut lists);
    first_of(lists, "a value of the wrong JSON type")
}

fn first_of(lists: Vec<String>, fallback: &str) -> String {
    let mut all = lists;
    all.push(format!("[{}]", lit(fallback)));
    format!("({})[0]", all.join(" + "))
}

/// `path` (a CEL string expression; `''` is the root) with the key `key` appended, written as
/// [`crate::finding::FieldPath::key`] writes it.
fn key_path(path: &str, key: &str) -> String {
    let dot = if path == "''" { "''" } else { "'.'" };
    format!(
        "({key}.matches('^[A-Za-z0-9_-]+$') ? {path} + {dot} + {key} : {path} + '[' + {key} + ']')"
    )
}

fn static_key_path(path: &str, key: &str) -> String {
    if path == "''" {
        lit(key)
    } else {
        format!("{path} + {}", lit(&format!(".{key}")))
    }
}

/// The unknown keys of every object in `v`, one message list per object.
fn unknown_messages(v: &str, path: &str, shape: &Shape, out: &mut Vec<String>) {
    walk(v, path, shape, out, &|v, path, shape, out| {
        if let Shape::Object(fields) = shape {
            let names = lit_list(fields.iter().map(|(n, _)| *n));
            let expected_keys = fields
                .iter()
                .map(|(n, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(format!(
                "(type({v}) == map ? {v}.filter(k, !(k in {names})).map(k, {} + ': unknown field `' + k + '`; expected one of ' + {}) : [])",
                key_path(path, "k"),
                lit(&expected_keys)
            ));
        }
    });
}

/// Every value in `v` of the wrong JSON type, one message list per value.
fn mismatch_messages(v: &str, path: &str, shape: &Shape, out: &mut Vec<String>) {
    walk(v, path, shape, out, &|v, path, shape, out| {
        out.push(format!(
            "({} ? [] : [{path} + ': expected ' + {} + ', got ' + {}])",
            type_ok(v, shape),
            lit(expected(shape)),
            describe(v)
        ));
    });
}

/// What [`walk`] calls on each value: (CEL expression of the value, CEL expression of its
/// path, its shape, the message lists to add to).
type Node = dyn Fn(&str, &str, &Shape, &mut Vec<String>);

/// Visits `v` and everything `shape` says is inside it, depth first, letting `node` add the
/// message lists of each value; a child's lists are guarded so that they are only evaluated
/// where its parent has the shape that makes the child exist.
fn walk(v: &str, path: &str, shape: &Shape, out: &mut Vec<String>, node: &Node) {
    node(v, path, shape, out);
    match shape {
        Shape::Object(fields) => {
            for (name, child) in fields.iter() {
                let mut inner = Vec::new();
                walk(
                    &get(v, name),
                    &static_key_path(path, name),
                    child,
                    &mut inner,
                    node,
                );
                for list in inner {
                    out.push(format!(
                        "(type({v}) == map && {} ? {list} : [])",
                        has(v, name)
                    ));
                }
            }
        }
        Shape::Array(item) => {
            let d = depth(v);
            let mut inner = Vec::new();
            let element = format!("{v}[i{d}]");
            let element_path = format!("{path} + '[' + string(i{d}) + ']'");
            walk(&element, &element_path, item, &mut inner, node);
            if !inner.is_empty() {
                inner.push("['']".to_owned());
                out.push(format!(
                    "(type({v}) == list ? variables.indices.filter(i{d}, i{d} < size({v})).map(i{d}, ({})[0]).filter(m, m != '') : [])",
                    inner.join(" + ")
                ));
            }
        }
        _ => {}
    }
}

/// `decode::describe` in CEL: a short description of a value, never the whole of it.
fn describe(v: &str) -> String {
    format!(
        "(type({v}) == null_type ? 'null' : type({v}) == bool ? 'boolean ' + string({v}) : (type({v}) == int || type({v}) == double) ? 'number ' + string({v}) : type({v}) == string ? (size({v}) <= 32 ? 'string \"' + {v} + '\"' : 'a string') : type({v}) == list ? 'a list' : 'an object')"
    )
}
