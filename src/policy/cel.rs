//! Building blocks of the generated CEL, as text.
//!
//! Only what the Kubernetes API server's CEL supports (since 1.30) and the `cel` interpreter the
//! tests use supports too: the standard functions and macros, `matches` with RE2 patterns, and
//! `lowerAscii`, `replace` and `split` of the string library. Objects of a schemaless resource
//! reach CEL as plain maps, so every field is read with `m['key']` and tested with `'key' in m`
//! (`namespace` is a CEL reserved word, and a selection would fail on a missing key); every
//! read is guarded by a type test, so no expression can fail at run time on any object.

use crate::rules::names::PROTOCOLS;

/// A CEL string literal.
pub(crate) fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A CEL list of string literals.
pub(crate) fn lit_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(lit).collect();
    format!("[{}]", items.join(", "))
}

/// `m[key]`.
pub(crate) fn get(m: &str, key: &str) -> String {
    format!("{m}[{}]", lit(key))
}

/// `key` is present in the map `m` (with any value, `null` included).
pub(crate) fn has(m: &str, key: &str) -> String {
    format!("{} in {m}", lit(key))
}

/// `m[key]` is a string.
pub(crate) fn is_str(m: &str, key: &str) -> String {
    format!("({} && type({}) == string)", has(m, key), get(m, key))
}

/// `m[key]` is a string that proto3 reads as set (not empty).
pub(crate) fn is_set(m: &str, key: &str) -> String {
    format!("({} && {} != '')", is_str(m, key), get(m, key))
}

/// `m[key]` is unset as proto3 reads it: absent, `null` or `""`. Only such values are defaulted.
pub(crate) fn is_unset(m: &str, key: &str) -> String {
    let v = get(m, key);
    format!(
        "(!({}) || type({v}) == null_type || (type({v}) == string && {v} == ''))",
        has(m, key)
    )
}

/// `m[key]` holds a value of another type than a string: a type error, which the rules for that
/// field leave to `TypeMismatch`.
pub(crate) fn str_malformed(m: &str, key: &str) -> String {
    let v = get(m, key);
    format!(
        "({} && type({v}) != string && type({v}) != null_type)",
        has(m, key)
    )
}

/// `m[key]` as the single element of a list, or an empty list when absent: compares absence,
/// `null` and a value as the engine's JSON comparison does.
pub(crate) fn wrapped(m: &str, key: &str) -> String {
    format!("({} ? [{}] : [])", has(m, key), get(m, key))
}

/// `m[key]` after a string default `default` (a CEL string expression, possibly empty) was
/// applied, wrapped as by [`wrapped`].
pub(crate) fn defaulted_wrapped(m: &str, key: &str, default: &str) -> String {
    format!(
        "({} && {default} != '' ? [dyn({default})] : {})",
        is_unset(m, key),
        wrapped(m, key)
    )
}

/// `m[key]` after a string default `default` was applied, as a string: `''` when it stays
/// unset or is not a string.
pub(crate) fn defaulted_str(m: &str, key: &str, default: &str) -> String {
    format!(
        "({} ? {} : ({} ? {default} : ''))",
        is_set(m, key),
        get(m, key),
        is_unset(m, key)
    )
}

/// The maps `a` and `b` hold the same keys with equal values, leaving out `except`.
pub(crate) fn same_except(a: &str, b: &str, except: &[&str]) -> String {
    let except = lit_list(except.iter().copied());
    format!(
        "({a}.all(k, k in {except} || (k in {b} && {b}[k] == {a}[k])) && {b}.all(k, k in {except} || k in {a}))"
    )
}

/// An RE2 pattern (also a Rust `regex` one) matching `s` in any ASCII case. Spelled out with
/// classes, not `(?i)`: RE2 folds Unicode case (`ſ` matches `s`), the engine only ASCII.
fn ascii_case_insensitive(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_lowercase());
            out.push(c.to_ascii_uppercase());
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

fn protocol_alternatives(filter: impl Fn(&str) -> bool) -> String {
    PROTOCOLS
        .iter()
        .copied()
        .filter(|p| filter(p))
        .map(ascii_case_insensitive)
        .collect::<Vec<_>>()
        .join("|")
}

/// A known protocol, in any ASCII case (the whole string).
pub(crate) fn protocol_pattern() -> String {
    format!("^({})$", protocol_alternatives(|_| true))
}

/// A port name whose part before the first `-` is a known protocol (Istio's
/// `<protocol>-<suffix>` convention). A protocol with a `-` cannot be such a part.
pub(crate) fn protocol_prefix_pattern() -> String {
    format!("^({})-", protocol_alternatives(|p| !p.contains('-')))
}

/// A DNS-1123 label without its length limit.
pub(crate) const LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain without its length limits.
pub(crate) const SUBDOMAIN_PATTERN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// `s` (a string expression) is a DNS-1123 label.
pub(crate) fn is_label(s: &str) -> String {
    format!("(size({s}) <= 63 && {s}.matches({}))", lit(LABEL_PATTERN))
}

/// `s` is a DNS-1123 subdomain: labels of at most 63 characters, at most 253 in all.
pub(crate) fn is_subdomain(s: &str) -> String {
    format!(
        "(size({s}) <= 253 && {s}.matches({}) && !{s}.matches('[^.]{{64}}'))",
        lit(SUBDOMAIN_PATTERN)
    )
}

/// `s` is an IANA service name (see [`crate::rules::names::iana_service_name_problem`]).
pub(crate) fn is_iana_service_name(s: &str) -> String {
    format!(
        "(size({s}) <= 15 && {s}.matches('^[a-z0-9-]*$') && {s}.matches('[a-z]') && !{s}.startsWith('-') && !{s}.endsWith('-') && !{s}.contains('--'))"
    )
}

/// A decimal integer in the range of an int64, as Rust's `str::parse::<i64>` reads it: an
/// optional sign, then digits (leading zeros allowed). Checked with a pattern, because a
/// conversion that overflows would be an evaluation error, not a false.
pub(crate) fn int64_string_pattern() -> String {
    fn at_most(max: &str) -> String {
        // Numbers of max's length that do not exceed it: max's prefix, one smaller digit, then
        // any digits.
        let digits: Vec<char> = max.chars().collect();
        let mut alternatives = Vec::new();
        for (i, d) in digits.iter().enumerate() {
            let Some(n) = d.to_digit(10) else { continue };
            if n > 0 {
                let prefix: String = digits.iter().take(i).collect();
                let rest = digits.len() - i - 1;
                alternatives.push(format!("{prefix}[0-{}][0-9]{{{rest}}}", n - 1));
            }
        }
        alternatives.push(max.to_owned());
        let shorter = digits.len() - 1;
        format!("[0-9]{{1,{shorter}}}|{}", alternatives.join("|"))
    }
    format!(
        "^(\\+?0*({})|-0*({}))$",
        at_most("9223372036854775807"),
        at_most("9223372036854775808")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit("a'b\\c"), "'a\\'b\\\\c'");
    }

    #[test]
    fn the_int64_pattern_accepts_exactly_what_rust_parses() {
        let re = regex::Regex::new(&int64_string_pattern()).unwrap();
        for s in [
            "0",
            "-0",
            "+7",
            "0009223372036854775807",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775806",
            "1234567890123456789",
            "9223372036854775808",
            "-9223372036854775809",
            "9323372036854775807",
            "10000000000000000000",
            "",
            "+",
            "-",
            "1a",
            " 1",
            "+-1",
        ] {
            assert_eq!(re.is_match(s), s.parse::<i64>().is_ok(), "{s:?}");
        }
    }

    #[test]
    fn protocol_patterns_fold_ascii_case_only() {
        let full = regex::Regex::new(&protocol_pattern()).unwrap();
        assert!(full.is_match("HTTP_Proxy") && full.is_match("grpc-web"));
        assert!(!full.is_match("http1") && !full.is_match("httpſ"));
        let prefix = regex::Regex::new(&protocol_prefix_pattern()).unwrap();
        assert!(prefix.is_match("http-api") && prefix.is_match("GRPC-web-x"));
        assert!(!prefix.is_match("http1-a") && !prefix.is_match("grpc"));
    }
}
