//! A bucket's website configuration (PutBucketWebsite): index and error
//! documents, redirect of all requests, routing rules; parsed from and
//! written to AWS's `WebsiteConfiguration` XML.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::xml::{self, XmlWriter};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_all: Option<Redirect>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_prefix_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_redirect_code: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix_equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code_equals: Option<u16>,
    pub redirect: Redirect,
}

#[derive(Debug, Deserialize)]
struct WebsiteXml {
    #[serde(rename = "IndexDocument")]
    index: Option<IndexXml>,
    #[serde(rename = "ErrorDocument")]
    error: Option<ErrorXml>,
    #[serde(rename = "RedirectAllRequestsTo")]
    redirect_all: Option<RedirectXml>,
    #[serde(rename = "RoutingRules")]
    rules: Option<RulesXml>,
}

#[derive(Debug, Deserialize)]
struct IndexXml {
    #[serde(rename = "Suffix")]
    suffix: String,
}

#[derive(Debug, Deserialize)]
struct ErrorXml {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Debug, Default, Deserialize)]
struct RedirectXml {
    #[serde(rename = "HostName")]
    host: Option<String>,
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
    #[serde(rename = "ReplaceKeyPrefixWith")]
    prefix_with: Option<String>,
    #[serde(rename = "ReplaceKeyWith")]
    key_with: Option<String>,
    #[serde(rename = "HttpRedirectCode")]
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RulesXml {
    #[serde(rename = "RoutingRule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Debug, Deserialize)]
struct RuleXml {
    #[serde(rename = "Condition")]
    condition: Option<ConditionXml>,
    #[serde(rename = "Redirect")]
    redirect: RedirectXml,
}

#[derive(Debug, Deserialize)]
struct ConditionXml {
    #[serde(rename = "KeyPrefixEquals")]
    prefix: Option<String>,
    #[serde(rename = "HttpErrorCodeReturnedEquals")]
    code: Option<String>,
}

impl xml::RequestDocument for WebsiteXml {
    const ROOT: &'static str = "WebsiteConfiguration";
}

fn redirect(r: RedirectXml) -> Result<Redirect, ApiError> {
    if r.prefix_with.is_some() && r.key_with.is_some() {
        return Err(ApiError::invalid_argument("You can only define ReplaceKeyPrefix or ReplaceKey but not both."));
    }
    let protocol = match r.protocol.as_deref() {
        None => None,
        Some(p @ ("http" | "https")) => Some(p.to_string()),
        Some(_) => return Err(ApiError::invalid_argument("Invalid protocol, protocol can be http or https.")),
    };
    let code = match r.code.as_deref() {
        None => None,
        Some(c) => match c.trim().parse::<u16>() {
            Ok(n) if (300..400).contains(&n) && n != 304 => Some(n),
            _ => return Err(ApiError::invalid_argument("The provided HTTP redirect code is not valid.")),
        },
    };
    Ok(Redirect {
        host: r.host,
        protocol,
        replace_key_prefix_with: r.prefix_with,
        replace_key_with: r.key_with,
        http_redirect_code: code,
    })
}

/// Parses and validates a PutBucketWebsite body.
pub fn parse(body: &[u8]) -> Result<Website, ApiError> {
    let doc: WebsiteXml = xml::parse(body)?;
    if let Some(all) = doc.redirect_all {
        if doc.index.is_some() || doc.error.is_some() || doc.rules.is_some() {
            return Err(ApiError::invalid_argument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            ));
        }
        if all.host.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::malformed_xml());
        }
        let all = redirect(all)?;
        return Ok(Website { index_suffix: None, error_key: None, redirect_all: Some(all), rules: Vec::new() });
    }
    let suffix = doc.index.map(|i| i.suffix).ok_or_else(|| {
        ApiError::invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        )
    })?;
    if suffix.is_empty() || suffix.contains('/') {
        return Err(ApiError::invalid_argument("The IndexDocument Suffix is not well formed"));
    }
    let mut rules = Vec::new();
    for r in doc.rules.map(|r| r.rules).unwrap_or_default() {
        let (prefix, code) = match r.condition {
            None => (None, None),
            Some(c) => {
                let code =
                    match c.code.as_deref() {
                        None => None,
                        Some(s) => {
                            Some(s.trim().parse::<u16>().ok().filter(|n| (400..600).contains(n)).ok_or_else(|| {
                                ApiError::invalid_argument("The provided HTTP error code is not valid.")
                            })?)
                        }
                    };
                (c.prefix, code)
            }
        };
        rules.push(RoutingRule { key_prefix_equals: prefix, error_code_equals: code, redirect: redirect(r.redirect)? });
    }
    if rules.len() > 50 {
        return Err(ApiError::invalid_argument("A maximum of 50 routing rules is allowed"));
    }
    Ok(Website { index_suffix: Some(suffix), error_key: doc.error.map(|e| e.key), redirect_all: None, rules })
}

fn write_redirect(w: &mut XmlWriter, r: &Redirect, root: &'static str) {
    w.open(root);
    w.opt_text("Protocol", r.protocol.as_deref());
    w.opt_text("HostName", r.host.as_deref());
    w.opt_text("ReplaceKeyPrefixWith", r.replace_key_prefix_with.as_deref());
    w.opt_text("ReplaceKeyWith", r.replace_key_with.as_deref());
    if let Some(c) = r.http_redirect_code {
        w.text("HttpRedirectCode", &c.to_string());
    }
    w.close();
}

/// The configuration as GetBucketWebsite returns it.
pub fn render(c: &Website) -> String {
    let mut w = XmlWriter::new("WebsiteConfiguration");
    if let Some(all) = &c.redirect_all {
        w.open("RedirectAllRequestsTo");
        w.opt_text("HostName", all.host.as_deref());
        w.opt_text("Protocol", all.protocol.as_deref());
        w.close();
        return w.finish();
    }
    if let Some(s) = &c.index_suffix {
        w.open("IndexDocument").text("Suffix", s).close();
    }
    if let Some(k) = &c.error_key {
        w.open("ErrorDocument").text("Key", k).close();
    }
    if !c.rules.is_empty() {
        w.open("RoutingRules");
        for r in &c.rules {
            w.open("RoutingRule");
            if r.key_prefix_equals.is_some() || r.error_code_equals.is_some() {
                w.open("Condition");
                w.opt_text("KeyPrefixEquals", r.key_prefix_equals.as_deref());
                if let Some(code) = r.error_code_equals {
                    w.text("HttpErrorCodeReturnedEquals", &code.to_string());
                }
                w.close();
            }
            write_redirect(&mut w, &r.redirect, "Redirect");
            w.close();
        }
        w.close();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let body = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>err.html</Key></ErrorDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith></Redirect></RoutingRule><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>";
        let c = parse(body.as_bytes()).expect("valid");
        assert_eq!(c.index_suffix.as_deref(), Some("index.html"));
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[1].redirect.http_redirect_code, Some(302));
        assert_eq!(parse(render(&c).as_bytes()).expect("round trip"), c);
        let all = "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>h.example</HostName><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>";
        let c = parse(all.as_bytes()).expect("redirect all");
        assert_eq!(parse(render(&c).as_bytes()).expect("round trip"), c);
        let code = |b: &str| parse(b.as_bytes()).err().map(|e| e.code);
        use crate::error::S3ErrorCode::*;
        assert_eq!(code("<WebsiteConfiguration></WebsiteConfiguration>"), Some(InvalidArgument));
        assert_eq!(
            code("<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>"),
            Some(InvalidArgument)
        );
        assert_eq!(code("<WebsiteConfiguration><IndexDocument>"), Some(MalformedXML));
    }
}
