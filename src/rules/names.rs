//! Name formats the rules check, as Kubernetes and IANA define them.

/// A DNS-1123 label: at most 63 characters of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters in all. No trailing dot
/// and no wildcard: the hostname names one service.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Why `s` is not a DNS-1123 subdomain, in words a user can act on.
pub fn subdomain_problem(s: &str) -> &'static str {
    if s.len() > 253 {
        "must be no more than 253 characters"
    } else if s.contains('*') {
        "must name one host; wildcards are not allowed"
    } else if s.ends_with('.') {
        "must not end with a dot"
    } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
        "must be lowercase"
    } else if s.split('.').any(|l| l.len() > 63) {
        "each dot-separated label must be no more than 63 characters"
    } else {
        "must consist of lowercase alphanumeric characters, '-' or '.', and each label must start and end with an alphanumeric character"
    }
}

/// Why `s` is not a DNS-1123 label.
pub fn label_problem(s: &str) -> &'static str {
    if s.len() > 63 {
        "must be no more than 63 characters"
    } else {
        "must consist of lowercase alphanumeric characters or '-', and must start and end with an alphanumeric character"
    }
}

/// An IANA service name (RFC 6335 §5.1), which is what Kubernetes requires of port names.
pub fn iana_service_name_problem(s: &str) -> Option<&'static str> {
    if s.len() > 15 {
        Some("must be no more than 15 characters")
    } else if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("must contain only lowercase alphanumeric characters or '-'")
    } else if !s.bytes().any(|b| b.is_ascii_lowercase()) {
        Some("must contain at least one letter")
    } else if s.starts_with('-') || s.ends_with('-') {
        Some("must not begin or end with '-'")
    } else if s.contains("--") {
        Some("must not contain adjacent '-' characters")
    } else {
        None
    }
}

/// The port protocols Istio routes, as the spec lists them (compared case-insensitively).
pub const PROTOCOLS: [&str; 12] = [
    "tcp",
    "udp",
    "grpc",
    "grpc-web",
    "http",
    "http_proxy",
    "http2",
    "https",
    "tls",
    "mongo",
    "redis",
    "mysql",
];

/// The canonical (lowercase) protocol for `s`, if it is one.
pub fn protocol(s: &str) -> Option<&'static str> {
    PROTOCOLS.into_iter().find(|p| p.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "shop", "a-1", "0", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in [
            "checkout.shop.failover",
            "a",
            "a-b.c0",
            &format!("{}.b", "a".repeat(63)),
        ] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        let too_long = vec!["a".repeat(50); 5].join(".");
        for bad in [
            "",
            "a.",
            ".a",
            "a..b",
            "*.a",
            "A.b",
            "a_b.c",
            &too_long,
            &format!("{}.b", "a".repeat(64)),
        ] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert_eq!(
            subdomain_problem("*.shop"),
            "must name one host; wildcards are not allowed"
        );
        assert_eq!(subdomain_problem("a.b."), "must not end with a dot");
        assert_eq!(subdomain_problem("Shop"), "must be lowercase");
    }

    #[test]
    fn iana_names() {
        for ok in ["http", "http-api", "h2c", "a1", "grpc-web"] {
            assert_eq!(iana_service_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "123",
            "-http",
            "http-",
            "http--api",
            "HTTP",
            "http_proxy",
            "abcdefghijklmnop",
        ] {
            assert!(iana_service_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn protocols_are_case_insensitive() {
        assert_eq!(protocol("HTTP"), Some("http"));
        assert_eq!(protocol("Http_Proxy"), Some("http_proxy"));
        assert_eq!(protocol("http1"), None);
        assert_eq!(protocol("h2"), None);
    }
}
