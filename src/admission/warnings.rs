//! AdmissionReview `warnings`, shaped so that the API server passes every one of them on.
//!
//! The API server turns each warning into an HTTP `Warning: 299 - "<text>"` header for the
//! client. It silently drops text containing control characters, and once the warnings of a
//! request exceed 4096 characters in total it truncates each to 256 and discards the rest
//! (`apiserver/pkg/endpoints/filters/warning.go`). The documented guidance is at most 120
//! characters each. Twenty warnings of 120 characters stay well inside the total.

use crate::finding::Finding;

/// Longest warning, in characters, as the AdmissionResponse documentation recommends.
pub const MAX_LEN: usize = 120;
/// Most warnings per response; the last one then says how many were left out.
pub const MAX_COUNT: usize = 20;

/// One warning per finding, `<field>: <message>`, cleaned and truncated.
pub fn from_findings<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Vec<String> {
    let all: Vec<String> = findings
        .into_iter()
        .map(|f| clean(&f.to_string()))
        .collect();
    if all.len() <= MAX_COUNT {
        return all;
    }
    let hidden = all.len() - (MAX_COUNT - 1);
    let mut shown: Vec<String> = all.into_iter().take(MAX_COUNT - 1).collect();
    shown.push(format!("... and {hidden} more findings"));
    shown
}

/// Removes control characters (a newline would make the API server drop the warning) and
/// truncates to [`MAX_LEN`] characters, marking the cut with an ellipsis.
pub fn clean(text: &str) -> String {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
    if chars.len() <= MAX_LEN {
        return chars.into_iter().collect();
    }
    let mut cut: String = chars.into_iter().take(MAX_LEN - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FieldPath, RuleCode};

    fn finding(msg: &str) -> Finding {
        Finding::new(RuleCode::ServiceNotFound, FieldPath::from("spec.x"), msg)
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(clean("a\nb\tc\u{7f}d\u{85}e"), "abcde");
    }

    #[test]
    fn long_warnings_are_cut_to_the_limit_with_an_ellipsis() {
        let w = clean(&"é".repeat(300));
        assert_eq!(w.chars().count(), MAX_LEN);
        assert!(w.ends_with('…'));
        assert_eq!(clean(&"x".repeat(MAX_LEN)), "x".repeat(MAX_LEN));
    }

    #[test]
    fn past_twenty_the_last_warning_counts_the_rest() {
        let many: Vec<Finding> = (0..25).map(|i| finding(&format!("m{i}"))).collect();
        let w = from_findings(&many);
        assert_eq!(w.len(), MAX_COUNT);
        assert_eq!(w[0], "spec.x: m0");
        assert_eq!(w[MAX_COUNT - 1], "... and 6 more findings");
        let exact: Vec<Finding> = (0..20).map(|i| finding(&format!("m{i}"))).collect();
        assert_eq!(from_findings(&exact).last().unwrap(), "spec.x: m19");
    }
}
