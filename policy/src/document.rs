//! Policy documents: parsing and validation of bucket and identity policies.
//!
//! Validation follows AWS: unknown fields, a missing Effect or Action, a
//! bucket policy without Principal or with a resource outside its bucket, an
//! identity policy with a Principal, unknown condition operators or keys and
//! malformed values are refused with a message naming the problem.

use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};
use crate::pattern::Pattern;
use crate::principal::{parse_principal, PrincipalEntry};

/// Why a policy was refused (the message is shown to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub message: String,
}

impl PolicyError {
    pub fn new(message: impl Into<String>) -> Self {
        PolicyError { message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Action or NotAction, Resource or NotResource: patterns and whether negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSet {
    pub patterns: Vec<Pattern>,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// Principal (`negated = false`) or NotPrincipal; `None` in identity policies.
    pub principal: Option<(Vec<PrincipalEntry>, bool)>,
    pub action: PatternSet,
    pub resource: PatternSet,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// `statement 2 ("PublicRead")` for explanations.
    pub fn describe(&self) -> String {
        match &self.sid {
            Some(sid) => format!("statement {} ({sid:?})", self.index),
            None => format!("statement {}", self.index),
        }
    }
}

/// A validated policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: String,
    pub statements: Vec<Statement>,
    text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    Bucket(&'a str),
    Identity,
}

/// Condition keys Coffer knows (lowercase); keys ending in `/` take a suffix.
const AWS_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:securetransport",
    "aws:referer",
    "aws:useragent",
    "aws:currenttime",
    "aws:epochtime",
    "aws:username",
    "aws:userid",
    "aws:principaltype",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:vpcsourceip",
    "aws:tokenissuetime",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:requestedregion",
    "aws:viaawsservice",
    "aws:calledvia",
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:tagkeys",
    "aws:principaltag/",
    "aws:requesttag/",
    "aws:resourcetag/",
];
const S3_KEYS: &[&str] = &[
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:x-amz-acl",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
    "s3:signatureversion",
    "s3:authtype",
    "s3:requestobjecttagkeys",
    "s3:versionid",
    "s3:locationconstraint",
    "s3:resourceaccount",
    "s3:tlsversion",
    "s3:x-amz-object-ownership",
    "s3:signatureage",
    "s3:existingobjecttag/",
    "s3:requestobjecttag/",
    "s3:object-lock-",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
    "s3:accesspointnetworkorigin",
];

fn known_key(key: &str, kind: Kind<'_>) -> bool {
    let k = key.to_ascii_lowercase();
    let known = |list: &[&str]| {
        list.iter().any(|p| {
            if p.ends_with('/') || p.ends_with('-') {
                k.starts_with(p) && k.len() > p.len()
            } else {
                k == *p
            }
        })
    };
    match k.split_once(':') {
        Some(("aws", _)) => known(AWS_KEYS),
        Some(("s3", _)) => known(S3_KEYS),
        // Identity policies may carry other services' keys (iam:..., kms:...).
        Some((service, name)) => {
            kind == Kind::Identity
                && !service.is_empty()
                && !name.is_empty()
                && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
        None => false,
    }
}

fn string_list(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let err = || PolicyError::new(format!("{what} must be a string or a non-empty array of strings"));
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(err)).collect(),
        _ => Err(err()),
    }
}

fn valid_action(action: &str, kind: Kind<'_>) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else { return false };
    let service_ok = !service.is_empty() && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let name_ok =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?' || b == b'-');
    match kind {
        Kind::Bucket(_) => service.eq_ignore_ascii_case("s3") && name_ok,
        Kind::Identity => service_ok && name_ok,
    }
}

fn valid_resource(resource: &str, kind: Kind<'_>) -> Result<(), PolicyError> {
    match kind {
        Kind::Identity => {
            if resource == "*" || resource.starts_with("arn:") {
                Ok(())
            } else {
                Err(PolicyError::new(format!("Resource {resource} must be in ARN format or \"*\".")))
            }
        }
        Kind::Bucket(bucket) => {
            let rest = resource
                .strip_prefix("arn:aws:s3:::")
                .ok_or_else(|| PolicyError::new("Policy has invalid resource"))?;
            let name = rest.split('/').next().unwrap_or_default();
            if name == bucket {
                Ok(())
            } else {
                Err(PolicyError::new("Policy has invalid resource"))
            }
        }
    }
}

fn parse_conditions(value: &Value, kind: Kind<'_>, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let map = value.as_object().ok_or_else(|| PolicyError::new("Condition must be an object"))?;
    let mut out = Vec::new();
    for (op_name, block) in map {
        let operator =
            Operator::parse(op_name).ok_or_else(|| PolicyError::new(format!("Invalid Condition type : {op_name}")))?;
        let block = block
            .as_object()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| PolicyError::new(format!("Condition {op_name} must map condition keys to values")))?;
        for (key, values) in block {
            if !known_key(key, kind) {
                return Err(PolicyError::new(format!("Policy has an invalid condition key: {key}")));
            }
            let raw: Vec<String> = match values {
                Value::Array(a) if !a.is_empty() => a.iter().map(scalar).collect::<Result<_, _>>()?,
                Value::Array(_) => return Err(PolicyError::new(format!("Condition key {key} has no values"))),
                other => vec![scalar(other)?],
            };
            let condition = Condition {
                operator,
                key: key.clone(),
                values: raw.iter().map(|v| Pattern::compile(v, variables)).collect(),
            };
            condition.validate()?;
            out.push(condition);
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Result<String, PolicyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PolicyError::new("Condition values must be strings, numbers or booleans")),
    }
}

fn pattern_set(
    stmt: &Map<String, Value>,
    names: (&str, &str),
    kind: Kind<'_>,
    variables: bool,
    required: bool,
) -> Result<Option<PatternSet>, PolicyError> {
    let (positive, negative) = (stmt.get(names.0), stmt.get(names.1));
    let (value, negated, name) = match (positive, negative) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::new(format!("A statement cannot have both {} and {}", names.0, names.1)))
        }
        (Some(v), None) => (v, false, names.0),
        (None, Some(v)) => (v, true, names.1),
        (None, None) if required => {
            return Err(PolicyError::new(format!("Missing required field {}", names.0)));
        }
        (None, None) => return Ok(None),
    };
    let items = string_list(value, name)?;
    for item in &items {
        if names.0 == "Action" && !valid_action(item, kind) {
            return Err(PolicyError::new(format!("Policy has invalid action: {item}")));
        }
        if names.0 == "Resource" {
            valid_resource(item, kind)?;
        }
    }
    // Actions are matched case-insensitively and never take variables.
    let vars = variables && names.0 == "Resource";
    Ok(Some(PatternSet { patterns: items.iter().map(|i| Pattern::compile(i, vars)).collect(), negated }))
}

const STATEMENT_FIELDS: &[&str] =
    &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

fn parse_statement(index: usize, value: &Value, kind: Kind<'_>, variables: bool) -> Result<Statement, PolicyError> {
    let stmt = value.as_object().ok_or_else(|| PolicyError::new("Each statement must be a JSON object"))?;
    if let Some(field) = stmt.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(PolicyError::new(format!("Unknown field {field}")));
    }
    let sid = match stmt.get("Sid") {
        None => None,
        Some(Value::String(s)) if s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-' || c == '_') => {
            Some(s.clone())
        }
        Some(_) => return Err(PolicyError::new("Statement IDs (SID) must be alpha-numeric")),
    };
    let effect = match stmt.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => return Err(PolicyError::new(format!("Invalid effect: {other}"))),
        None => return Err(PolicyError::new("Missing required field Effect")),
    };
    let principal = match (stmt.get("Principal"), stmt.get("NotPrincipal"), kind) {
        (Some(_), Some(_), _) => {
            return Err(PolicyError::new("A statement cannot have both Principal and NotPrincipal"))
        }
        (None, None, Kind::Bucket(_)) => return Err(PolicyError::new("Missing required field Principal")),
        (None, None, Kind::Identity) => None,
        (Some(_), _, Kind::Identity) | (_, Some(_), Kind::Identity) => {
            return Err(PolicyError::new("Policy document should not specify a principal."))
        }
        (Some(p), None, Kind::Bucket(_)) => Some((parse_principal(p)?, false)),
        (None, Some(p), Kind::Bucket(_)) => Some((parse_principal(p)?, true)),
    };
    let action = pattern_set(stmt, ("Action", "NotAction"), kind, variables, true)?
        .ok_or_else(|| PolicyError::new("Missing required field Action"))?;
    let resource = pattern_set(stmt, ("Resource", "NotResource"), kind, variables, true)?
        .ok_or_else(|| PolicyError::new("Missing required field Resource"))?;
    let conditions = match stmt.get("Condition") {
        Some(c) => parse_conditions(c, kind, variables)?,
        None => Vec::new(),
    };
    Ok(Statement { index, sid, effect, principal, action, resource, conditions })
}

fn parse(json: &str, kind: Kind<'_>) -> Result<PolicyDocument, PolicyError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| PolicyError::new(format!("Policies must be valid JSON: {e}")))?;
    let doc = value.as_object().ok_or_else(|| PolicyError::new("Policies must be a JSON object"))?;
    if let Some(field) = doc.keys().find(|k| !["Version", "Id", "Statement"].contains(&k.as_str())) {
        return Err(PolicyError::new(format!("Unknown field {field}")));
    }
    let version = match doc.get("Version") {
        None => "2008-10-17".to_string(),
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => v.clone(),
        Some(_) => return Err(PolicyError::new("The policy must contain a valid version string")),
    };
    if doc.get("Id").is_some_and(|id| !id.is_string()) {
        return Err(PolicyError::new("Id must be a string"));
    }
    let variables = version == "2012-10-17";
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => return Err(PolicyError::new("Could not parse the policy: Statement is empty or not an array")),
        None => return Err(PolicyError::new("Missing required field Statement")),
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| parse_statement(i, s, kind, variables))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
    sids.sort_unstable();
    if sids.windows(2).any(|w| w[0] == w[1]) {
        return Err(PolicyError::new("Statement IDs (SID) in a single policy must be unique"));
    }
    Ok(PolicyDocument { version, statements, text: json.to_string() })
}

impl PolicyDocument {
    /// Parses and validates the policy of `bucket` (Principal required,
    /// every resource inside the bucket, S3 actions only).
    pub fn parse_bucket_policy(json: &str, bucket: &str) -> Result<PolicyDocument, PolicyError> {
        parse(json, Kind::Bucket(bucket))
    }

    /// Parses and validates an identity (user or group) policy (no Principal).
    pub fn parse_identity_policy(json: &str) -> Result<PolicyDocument, PolicyError> {
        parse(json, Kind::Identity)
    }

    /// The document exactly as it was given.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    /// Whether any condition names a key starting with `prefix` (ASCII
    /// case-insensitive), e.g. `s3:ExistingObjectTag/`: lets the caller
    /// gather costly condition values only when a policy needs them.
    pub fn uses_condition_key_prefix(&self, prefix: &str) -> bool {
        self.statements.iter().flat_map(|s| &s.conditions).any(|c| {
            c.key.len() >= prefix.len() && c.key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
    }

    /// Whether AWS would call this bucket policy public.
    pub fn is_public(&self) -> bool {
        crate::public::policy_is_public(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "bucket";

    fn bucket(json: &str) -> Result<PolicyDocument, PolicyError> {
        PolicyDocument::parse_bucket_policy(json, B)
    }

    #[test]
    fn valid_documents() {
        let doc = bucket(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}"#).expect("valid");
        assert_eq!(doc.statements.len(), 1);
        let doc = PolicyDocument::parse_identity_policy(
            r#"{"Statement":[{"Sid":"A1","Effect":"Deny","NotAction":["iam:*"],"Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":10}}}]}"#,
        )
        .expect("valid");
        assert_eq!(doc.version, "2008-10-17");
    }

    #[test]
    fn condition_key_prefixes() {
        let doc = bucket(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*","Condition":{"StringEquals":{"S3:existingObjectTag/team":"blue"}}}]}"#).expect("valid");
        assert!(doc.uses_condition_key_prefix("s3:ExistingObjectTag/"));
        assert!(!doc.uses_condition_key_prefix("s3:RequestObjectTag/"));
    }

    #[test]
    fn invalid_documents_name_the_problem() {
        let cases = [
            ("", "valid JSON"),
            ("[]", "JSON object"),
            (r#"{"Statement":[]}"#, "Statement"),
            (r#"{"Version":"2020-01-01","Statement":[]}"#, "version"),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
                "invalid resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#,
                "Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::bucket/*"}]}"#,
                "invalid action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}]}"#,
                "principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Condition":{"StringEquals":{"aws:Bogus":"x"}}}]}"#,
                "condition key",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.999"}}}]}"#,
                "Invalid value",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Extra":1}]}"#,
                "Unknown field",
            ),
            (
                r#"{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket"},{"Sid":"a","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket"}]}"#,
                "unique",
            ),
        ];
        for (json, needle) in cases {
            let err = bucket(json).expect_err(json);
            assert!(err.message.contains(needle), "{json}: {}", err.message);
        }
        let err = PolicyDocument::parse_identity_policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
        )
        .expect_err("principal in identity policy");
        assert!(err.message.contains("principal"));
    }
}
