//! AWS's definition of a public bucket policy.
//!
//! A policy is public if any Allow statement grants a principal that is
//! everyone (`"*"`, `{"AWS": "*"}`, or any NotPrincipal) without a condition
//! that pins the request to fixed values of a key that identifies a known
//! party: `aws:SourceIp` (a CIDR set), `aws:SourceArn`, `aws:SourceVpc`,
//! `aws:SourceVpce`, `aws:SourceOwner`, `aws:SourceAccount`, `aws:userid`,
//! `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalOrgID`,
//! `s3:DataAccessPointArn`, `s3:DataAccessPointAccount`. A value with a
//! wildcard pins nothing; an address range wider than /8 (IPv4) or /32
//! (IPv6) is treated as public too.

use crate::condition::{parse_cidr, Base, Condition};
use crate::document::{Effect, PolicyDocument, Statement};
use crate::principal::PrincipalEntry;

const PINNING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:userid",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principalorgid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

fn pins(condition: &Condition) -> bool {
    let key = condition.key.to_ascii_lowercase();
    if !PINNING_KEYS.contains(&key.as_str()) || !condition.operator.is_fixed_match() || condition.operator.if_exists {
        return false;
    }
    condition.values.iter().all(|v| {
        if v.has_wildcards() || v.source().contains("${") {
            return false;
        }
        if condition.operator.base == Base::IpAddress {
            return match parse_cidr(v.source()) {
                Some(ipnet::IpNet::V4(n)) => n.prefix_len() >= 8,
                Some(ipnet::IpNet::V6(n)) => n.prefix_len() >= 32,
                None => false,
            };
        }
        key != "aws:sourceip"
    })
}

fn grants_everyone(statement: &Statement) -> bool {
    match &statement.principal {
        Some((_, true)) => true,
        Some((entries, false)) => entries.contains(&PrincipalEntry::Everyone),
        None => false,
    }
}

/// Whether one statement makes the policy public.
pub fn statement_is_public(statement: &Statement) -> bool {
    statement.effect == Effect::Allow && grants_everyone(statement) && !statement.conditions.iter().any(pins)
}

pub fn policy_is_public(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(statement_is_public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(statement: &str) -> bool {
        let json = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        PolicyDocument::parse_bucket_policy(&json, "b").expect("valid").is_public()
    }

    const OBJ: &str = r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#;

    #[test]
    fn public_rules() {
        assert!(public(&format!(r#"{{"Effect":"Allow","Principal":"*",{OBJ}}}"#)));
        assert!(public(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"*"}},{OBJ}}}"#)));
        assert!(public(&format!(r#"{{"Effect":"Allow","NotPrincipal":{{"AWS":"123456789012"}},{OBJ}}}"#)));
        assert!(!public(&format!(r#"{{"Effect":"Deny","Principal":"*",{OBJ}}}"#)));
        assert!(!public(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"123456789012"}},{OBJ}}}"#)));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"IpAddress":{{"aws:SourceIp":"192.0.2.0/24"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"IpAddress":{{"aws:SourceIp":"0.0.0.0/0"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"NotIpAddress":{{"aws:SourceIp":"192.0.2.0/24"}}}}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"StringEquals":{{"aws:SourceAccount":"123456789012"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"StringLike":{{"aws:SourceArn":"arn:aws:*"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{OBJ},"Condition":{{"StringEquals":{{"aws:Referer":"https://example.com"}}}}}}"#
        )));
    }
}
