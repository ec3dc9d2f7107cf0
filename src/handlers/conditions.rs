//! Conditional requests (`If-*`, `x-amz-copy-source-if-*`) and byte ranges,
//! with AWS's precedence rules. Pure functions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

use crate::error::{ApiError, S3ErrorCode};

/// The outcome of evaluating read preconditions.
#[derive(Debug, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == bare)
}

fn parse_date(value: Option<&str>) -> Option<SystemTime> {
    value.and_then(|v| httpdate::parse_http_date(v).ok())
}

/// Last-Modified at HTTP-date precision (whole seconds).
pub fn modified_seconds(last_modified_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(last_modified_ms / 1000)
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
/// `If-Modified-Since` for GET/HEAD, with the header names given by `names`
/// (plain or copy-source). AWS precedence: If-Match true makes
/// If-Unmodified-Since irrelevant; If-None-Match false makes
/// If-Modified-Since irrelevant.
pub fn evaluate(
    get: impl Fn(&str) -> Option<String>,
    names: [&str; 4],
    etag: &str,
    last_modified_ms: u64,
) -> Precondition {
    let modified = modified_seconds(last_modified_ms);
    let [if_match, if_unmodified, if_none_match, if_modified] = names;
    match get(if_match) {
        Some(list) => {
            if !etag_list_matches(&list, etag) {
                return Precondition::Failed;
            }
        }
        None => {
            if let Some(since) = parse_date(get(if_unmodified).as_deref()) {
                if modified > since {
                    return Precondition::Failed;
                }
            }
        }
    }
    match get(if_none_match) {
        Some(list) => {
            if etag_list_matches(&list, etag) {
                return Precondition::NotModified;
            }
        }
        None => {
            if let Some(since) = parse_date(get(if_modified).as_deref()) {
                if modified <= since {
                    return Precondition::NotModified;
                }
            }
        }
    }
    Precondition::Proceed
}

pub const READ_CONDITIONS: [&str; 4] = ["if-match", "if-unmodified-since", "if-none-match", "if-modified-since"];
pub const COPY_SOURCE_CONDITIONS: [&str; 4] = [
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
];

pub fn header_getter(headers: &HeaderMap) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Parses a `Range` header against an object size. `Ok(None)`: serve the
/// whole object (no header, or one AWS ignores); `Ok(Some((start, end_excl)))`;
/// an unsatisfiable range is `InvalidRange`.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(header) = header else { return Ok(None) };
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        // Multiple ranges are not supported by S3; it serves the whole object.
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(None) };
    let unsatisfiable = || {
        ApiError::new(S3ErrorCode::InvalidRange, "The requested range is not satisfiable")
            .with_extra("RangeRequested", header.to_string())
            .with_extra("ActualObjectSize", size.to_string())
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else { return Ok(None) };
        if suffix == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        return Ok(Some((size.saturating_sub(suffix), size)));
    }
    let Ok(start) = first.parse::<u64>() else { return Ok(None) };
    let end_inclusive = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(v) if v >= start => v,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end_inclusive.saturating_add(1).min(size))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10).expect("ok"), None);
        assert_eq!(parse_range(Some("bytes=0-0"), 10).expect("ok"), Some((0, 1)));
        assert_eq!(parse_range(Some("bytes=2-5"), 10).expect("ok"), Some((2, 6)));
        assert_eq!(parse_range(Some("bytes=5-"), 10).expect("ok"), Some((5, 10)));
        assert_eq!(parse_range(Some("bytes=-3"), 10).expect("ok"), Some((7, 10)));
        assert_eq!(parse_range(Some("bytes=-30"), 10).expect("ok"), Some((0, 10)));
        assert_eq!(parse_range(Some("bytes=3-100"), 10).expect("ok"), Some((3, 10)));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10).expect("ok"), None);
        assert_eq!(parse_range(Some("bytes=5-2"), 10).expect("ok"), None);
        assert_eq!(parse_range(Some("items=0-1"), 10).expect("ok"), None);
        assert_eq!(parse_range(Some("bytes=10-"), 10).expect_err("416").code, S3ErrorCode::InvalidRange);
        assert_eq!(parse_range(Some("bytes=0-"), 0).expect_err("416").code, S3ErrorCode::InvalidRange);
        assert_eq!(parse_range(Some("bytes=-0"), 10).expect_err("416").code, S3ErrorCode::InvalidRange);
    }

    fn eval(pairs: &[(&str, &str)]) -> Precondition {
        let etag = "\"abc\"";
        let modified_ms = 1_700_000_000_000;
        let get = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
        evaluate(get, READ_CONDITIONS, etag, modified_ms)
    }

    #[test]
    fn precedence() {
        let before = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_600_000_000));
        let after = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        assert_eq!(eval(&[]), Precondition::Proceed);
        assert_eq!(eval(&[("if-match", "\"abc\"")]), Precondition::Proceed);
        assert_eq!(eval(&[("if-match", "\"zzz\"")]), Precondition::Failed);
        assert_eq!(eval(&[("if-match", "*")]), Precondition::Proceed);
        assert_eq!(eval(&[("if-unmodified-since", &before)]), Precondition::Failed);
        assert_eq!(eval(&[("if-match", "\"abc\""), ("if-unmodified-since", &before)]), Precondition::Proceed);
        assert_eq!(eval(&[("if-none-match", "\"abc\"")]), Precondition::NotModified);
        assert_eq!(eval(&[("if-modified-since", &after)]), Precondition::NotModified);
        assert_eq!(eval(&[("if-modified-since", &before)]), Precondition::Proceed);
        assert_eq!(eval(&[("if-none-match", "\"zzz\""), ("if-modified-since", &after)]), Precondition::Proceed);
    }
}
