//! Condition operators and the condition values of a request.
//!
//! Semantics follow AWS's IAM reference: keys are case-insensitive; a
//! missing key makes positive operators false and negated operators
//! (`StringNotEquals`, `NotIpAddress`, ...) true; `...IfExists` makes a
//! missing key true; `ForAnyValue` is false and `ForAllValues` true for a
//! missing key; `Null` tests presence; values that do not parse (a number,
//! a date, an address) never match.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::document::PolicyError;
use crate::pattern::Pattern;

/// The condition keys of one request and their values, keys case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionValues {
    values: HashMap<String, Vec<String>>,
}

impl ConditionValues {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value of `key`.
    pub fn insert(&mut self, key: &str, value: String) {
        self.values.entry(key.to_ascii_lowercase()).or_default().push(value);
    }

    /// Adds several values of a multi-valued key.
    pub fn insert_many(&mut self, key: &str, values: Vec<String>) {
        self.values.entry(key.to_ascii_lowercase()).or_default().extend(values);
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

/// The base comparison of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

/// How several request values combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name such as `ForAllValues:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub base: Base,
    pub negated: bool,
    pub if_exists: bool,
    pub set: SetOp,
}

impl Operator {
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::Single, name)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        use Base::*;
        let (base, negated) = match rest {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            "NumericEquals" => (NumericEquals, false),
            "NumericNotEquals" => (NumericEquals, true),
            "NumericLessThan" => (NumericLessThan, false),
            "NumericLessThanEquals" => (NumericLessThanEquals, false),
            "NumericGreaterThan" => (NumericGreaterThan, false),
            "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
            "DateEquals" => (DateEquals, false),
            "DateNotEquals" => (DateEquals, true),
            "DateLessThan" => (DateLessThan, false),
            "DateLessThanEquals" => (DateLessThanEquals, false),
            "DateGreaterThan" => (DateGreaterThan, false),
            "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (BinaryEquals, false),
            "IpAddress" => (IpAddress, false),
            "NotIpAddress" => (IpAddress, true),
            "ArnEquals" => (ArnEquals, false),
            "ArnNotEquals" => (ArnEquals, true),
            "ArnLike" => (ArnLike, false),
            "ArnNotLike" => (ArnLike, true),
            "Null" => (Null, false),
            _ => return None,
        };
        if base == Null && (if_exists || set != SetOp::Single) {
            return None;
        }
        Some(Operator { base, negated, if_exists, set })
    }

    /// Whether `value` may pin a condition to fixed values (no wildcard
    /// operator) — used by the "is public" rules.
    pub fn is_fixed_match(&self) -> bool {
        !self.negated
            && self.set != SetOp::ForAllValues
            && matches!(
                self.base,
                Base::StringEquals
                    | Base::StringEqualsIgnoreCase
                    | Base::ArnEquals
                    | Base::IpAddress
                    | Base::StringLike
                    | Base::ArnLike
            )
    }
}

/// One `"Operator": {"key": values}` entry of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    pub key: String,
    pub values: Vec<Pattern>,
}

/// Parses an IP address or CIDR as policies write them (a bare address is /32 or /128).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Dates as ISO 8601 (`2026-01-02T03:04:05Z`, with offset or fraction, or a
/// date alone) or seconds since the epoch; compared as seconds.
fn parse_date(text: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(i128::from(n) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(text, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

impl Condition {
    /// Validates the policy values for the operator (at parse time).
    pub fn validate(&self) -> Result<(), PolicyError> {
        for v in &self.values {
            let text = v.source();
            let ok = match self.operator.base {
                Base::IpAddress => text.contains("${") || parse_cidr(text).is_some(),
                Base::Null | Base::Bool => {
                    text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") || text.contains("${")
                }
                Base::NumericEquals
                | Base::NumericLessThan
                | Base::NumericLessThanEquals
                | Base::NumericGreaterThan
                | Base::NumericGreaterThanEquals => text.contains("${") || parse_number(text).is_some(),
                Base::DateEquals
                | Base::DateLessThan
                | Base::DateLessThanEquals
                | Base::DateGreaterThan
                | Base::DateGreaterThanEquals => text.contains("${") || parse_date(text).is_some(),
                _ => true,
            };
            if !ok {
                return Err(PolicyError::new(format!(
                    "Invalid value {text:?} for condition operator on key {}",
                    self.key
                )));
            }
        }
        Ok(())
    }

    /// Whether request value `r` matches policy value `v` under the base comparison.
    fn base_match(&self, v: &Pattern, r: &str, ctx: &ConditionValues) -> bool {
        use std::cmp::Ordering;
        let numeric = |want: &[Ordering]| match (v.resolved_text(ctx).and_then(|t| parse_number(&t)), parse_number(r)) {
            (Some(p), Some(q)) => q.partial_cmp(&p).is_some_and(|o| want.contains(&o)),
            _ => false,
        };
        let date = |want: &[Ordering]| match (v.resolved_text(ctx).and_then(|t| parse_date(&t)), parse_date(r)) {
            (Some(p), Some(q)) => want.contains(&q.cmp(&p)),
            _ => false,
        };
        use Ordering::*;
        match self.operator.base {
            Base::StringEquals | Base::BinaryEquals | Base::ArnEquals => v.equals(r, ctx, false),
            Base::StringEqualsIgnoreCase => v.equals(r, ctx, true),
            Base::StringLike | Base::ArnLike => v.matches(r, ctx, false),
            Base::NumericEquals => numeric(&[Equal]),
            Base::NumericLessThan => numeric(&[Less]),
            Base::NumericLessThanEquals => numeric(&[Less, Equal]),
            Base::NumericGreaterThan => numeric(&[Greater]),
            Base::NumericGreaterThanEquals => numeric(&[Greater, Equal]),
            Base::DateEquals => date(&[Equal]),
            Base::DateLessThan => date(&[Less]),
            Base::DateLessThanEquals => date(&[Less, Equal]),
            Base::DateGreaterThan => date(&[Greater]),
            Base::DateGreaterThanEquals => date(&[Greater, Equal]),
            Base::Bool => v.resolved_text(ctx).is_some_and(|t| t.eq_ignore_ascii_case(r.trim())),
            Base::IpAddress => match (v.resolved_text(ctx).and_then(|t| parse_cidr(&t)), r.trim().parse::<IpAddr>()) {
                (Some(net), Ok(ip)) => net.contains(&ip),
                _ => false,
            },
            Base::Null => false,
        }
    }

    /// Whether one request value matches any policy value.
    fn any_value_matches(&self, r: &str, ctx: &ConditionValues) -> bool {
        self.values.iter().any(|v| self.base_match(v, r, ctx))
    }

    /// Evaluates the condition against the request's values.
    pub fn evaluate(&self, ctx: &ConditionValues) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.operator.base == Base::Null {
            let want_absent =
                self.values.iter().any(|v| v.resolved_text(ctx).is_some_and(|t| t.eq_ignore_ascii_case("true")));
            return want_absent == present.is_none();
        }
        let op = self.operator;
        let Some(request_values) = present else {
            return match op.set {
                SetOp::ForAllValues => true,
                SetOp::ForAnyValue => false,
                SetOp::Single => op.if_exists || op.negated,
            };
        };
        // A request value "matches" when the (possibly negated) operator holds for it.
        let holds = |r: &String| self.any_value_matches(r, ctx) != op.negated;
        match op.set {
            SetOp::ForAnyValue => request_values.iter().any(holds),
            SetOp::ForAllValues => request_values.iter().all(holds),
            SetOp::Single => {
                if op.negated {
                    // Negated single-valued: no request value may match any policy value.
                    !request_values.iter().any(|r| self.any_value_matches(r, ctx))
                } else {
                    request_values.iter().any(|r| self.any_value_matches(r, ctx))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: Operator::parse(op).expect("operator"),
            key: key.to_string(),
            values: values.iter().map(|v| Pattern::compile(v, true)).collect(),
        }
    }

    fn ctx(pairs: &[(&str, &str)]) -> ConditionValues {
        let mut c = ConditionValues::new();
        for (k, v) in pairs {
            c.insert(k, v.to_string());
        }
        c
    }

    #[test]
    fn operators_parse() {
        assert!(Operator::parse("ForAllValues:StringNotLikeIfExists").is_some());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("stringequals").is_none(), "operator names are case-sensitive");
    }

    #[test]
    fn missing_keys() {
        let empty = ConditionValues::new();
        assert!(!cond("StringEquals", "aws:Referer", &["x"]).evaluate(&empty));
        assert!(cond("StringNotEquals", "aws:Referer", &["x"]).evaluate(&empty));
        assert!(cond("StringEqualsIfExists", "aws:Referer", &["x"]).evaluate(&empty));
        assert!(cond("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", &["a"]).evaluate(&empty));
        assert!(!cond("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", &["a"]).evaluate(&empty));
        assert!(cond("Null", "aws:Referer", &["true"]).evaluate(&empty));
        assert!(!cond("Null", "aws:Referer", &["false"]).evaluate(&empty));
        assert!(!cond("Bool", "aws:SecureTransport", &["false"]).evaluate(&empty));
    }

    #[test]
    fn comparisons() {
        let c =
            ctx(&[("aws:SourceIp", "10.1.2.3"), ("s3:max-keys", "50"), ("aws:CurrentTime", "2026-06-01T00:00:00Z")]);
        assert!(cond("IpAddress", "aws:sourceip", &["10.0.0.0/8"]).evaluate(&c));
        assert!(!cond("NotIpAddress", "aws:SourceIp", &["10.0.0.0/8"]).evaluate(&c));
        assert!(cond("IpAddress", "aws:SourceIp", &["10.1.2.3"]).evaluate(&c));
        assert!(cond("NumericLessThanEquals", "s3:max-keys", &["50"]).evaluate(&c));
        assert!(!cond("NumericLessThan", "s3:max-keys", &["50"]).evaluate(&c));
        assert!(cond("DateGreaterThan", "aws:CurrentTime", &["2026-01-01"]).evaluate(&c));
        assert!(cond("DateLessThan", "aws:CurrentTime", &["1893456000"]).evaluate(&c));
        let c = ctx(&[("s3:max-keys", "lots")]);
        assert!(!cond("NumericEquals", "s3:max-keys", &["5"]).evaluate(&c), "unparsable never matches");
    }

    #[test]
    fn multi_valued() {
        let mut c = ConditionValues::new();
        c.insert_many("s3:RequestObjectTagKeys", vec!["team".into(), "env".into()]);
        assert!(cond("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", &["team", "env", "x"]).evaluate(&c));
        assert!(!cond("ForAllValues:StringEquals", "s3:RequestObjectTagKeys", &["team"]).evaluate(&c));
        assert!(cond("ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", &["env"]).evaluate(&c));
        assert!(cond("ForAnyValue:StringNotEquals", "s3:RequestObjectTagKeys", &["env"]).evaluate(&c));
        assert!(!cond("ForAllValues:StringNotEquals", "s3:RequestObjectTagKeys", &["env"]).evaluate(&c));
    }
}
