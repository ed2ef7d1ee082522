//! The time one request may take: the `?timeout=` the API server appends to every webhook call
//! (its remaining deadline, as a Go duration such as `10s`), read the way the API server reads
//! the same query parameter on its own requests (`WithRequestDeadline` in k8s.io/apiserver):
//!
//! - absent or empty: no deadline from the caller;
//! - not a Go duration (`soon`, `10`): refused with 400 and
//!   `invalid timeout specified in the request URL - time: ...`;
//! - zero or negative (`0s`, `-1s`): no deadline from the caller ("a timeout of 0s implies no
//!   timeout on the user's part");
//! - anything else: that long, capped by the server's own limit.
//!
//! With no deadline from the caller the server's own limit applies.

use std::time::Duration;

/// Why a `?timeout=` value was refused; the text follows Go's `time.ParseDuration` errors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {value:?}")]
    UnknownUnit { unit: String, value: String },
}

/// The time this request may take, from its query string and the server's `limit`.
pub fn budget(query: Option<&str>, limit: Duration) -> Result<Duration, TimeoutError> {
    // Go's `URL.Query().Get`: the first value, percent-decoded; an empty value is no value.
    let value = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "timeout")
            .map(|(_, value)| value)
    });
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(limit);
    };
    Ok(match parse_go_duration(&value)? {
        Some(d) if !d.is_zero() => d.min(limit),
        _ => limit,
    })
}

/// Go's `time.ParseDuration`: an optionally signed sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), such as `1.5s`,
/// `1m30s` or `-2h`; `0` alone needs no unit. `None` for a negative duration, which the API
/// server treats like zero.
pub fn parse_go_duration(value: &str) -> Result<Option<Duration>, TimeoutError> {
    let invalid = || TimeoutError::Invalid(value.to_owned());
    let (negative, mut rest) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    if rest == "0" {
        return Ok(Some(Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        // `1.`, `.5` and `1.5` are numbers; `.` and `1.2.3` are not.
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid());
        }
        let number: f64 = format!("0{whole}.{fraction}0")
            .parse()
            .map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "" => return Err(TimeoutError::MissingUnit(value.to_owned())),
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => {
                return Err(TimeoutError::UnknownUnit {
                    unit: unit.to_owned(),
                    value: value.to_owned(),
                });
            }
        };
        nanos += number * scale;
        rest = after;
    }
    // Go's durations are int64 nanoseconds; anything longer is an overflow there.
    if nanos > i64::MAX as f64 {
        return Err(invalid());
    }
    if negative && nanos > 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(30);

    fn secs(s: f64) -> Result<Duration, TimeoutError> {
        Ok(Duration::from_secs_f64(s))
    }

    #[test]
    fn the_api_server_timeout_bounds_the_request_up_to_the_server_limit() {
        assert_eq!(budget(Some("timeout=10s"), LIMIT), secs(10.0));
        assert_eq!(budget(Some("a=b&timeout=1m30s"), LIMIT), Ok(LIMIT));
        assert_eq!(budget(Some("timeout=1.5s"), LIMIT), secs(1.5));
        assert_eq!(budget(Some("timeout=250ms"), LIMIT), secs(0.25));
        assert_eq!(budget(Some("timeout=1m"), LIMIT), Ok(LIMIT));
        assert_eq!(budget(Some("timeout=2h"), LIMIT), Ok(LIMIT));
        let micros = Ok(Duration::from_micros(100));
        assert_eq!(budget(Some("timeout=100us"), LIMIT), micros);
        assert_eq!(budget(Some("timeout=100%C2%B5s"), LIMIT), micros);
        assert_eq!(budget(Some("timeout=1%2E5s"), LIMIT), secs(1.5));
        assert_eq!(budget(Some("timeout=.5s"), LIMIT), secs(0.5));
        assert_eq!(budget(Some("timeout=2.s"), LIMIT), secs(2.0));
        assert_eq!(
            budget(Some("timeout=3s&timeout=soon"), LIMIT),
            secs(3.0),
            "the first value counts"
        );
    }

    #[test]
    fn no_zero_or_negative_timeout_means_the_server_limit() {
        for query in [
            None,
            Some(""),
            Some("dryRun=All"),
            Some("timeout="),
            Some("timeout=0"),
            Some("timeout=0s"),
            Some("timeout=-0s"),
            Some("timeout=%2B0.0ms"),
            Some("timeout=-1s"),
        ] {
            assert_eq!(budget(query, LIMIT), Ok(LIMIT), "{query:?}");
        }
    }

    #[test]
    fn values_go_cannot_parse_are_refused_with_gos_reason() {
        let err = |q: &str| budget(Some(q), LIMIT).unwrap_err().to_string();
        assert_eq!(err("timeout=soon"), r#"time: invalid duration "soon""#);
        assert_eq!(err("timeout=10"), r#"time: missing unit in duration "10""#);
        assert_eq!(
            err("timeout=10sec"),
            r#"time: unknown unit "sec" in duration "10sec""#
        );
        assert_eq!(
            err("timeout=1S"),
            r#"time: unknown unit "S" in duration "1S""#
        );
        for bad in [
            "timeout=-",
            "timeout=+1s",
            "timeout=.s",
            "timeout=1.2.3s",
            "timeout=s",
            "timeout=3000000h",
        ] {
            assert!(budget(Some(bad), LIMIT).is_err(), "{bad}");
        }
    }
}
