//! A bucket's lifecycle configuration: the rules as stored, parsed from and
//! written to AWS's `LifecycleConfiguration` XML, validated as AWS does, and
//! matched against objects (prefix, tags, size).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::xml::{self, XmlWriter};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    /// The rule named its prefix the old way (`<Prefix>` in the rule, no
    /// `<Filter>`); GET answers in the same form, as AWS does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_prefix: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
    /// Milliseconds since the epoch (midnight UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<u64>,
    #[serde(default)]
    pub expired_delete_marker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_multipart_days: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
}

impl Filter {
    /// Whether an object (key, tags, size) is covered by the filter.
    pub fn matches(&self, key: &str, tags: &[(String, String)], size: u64) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.size_greater_than.is_none_or(|g| size > g)
            && self.size_less_than.is_none_or(|l| size < l)
    }
}

#[derive(Debug, Deserialize)]
struct LifecycleXml {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Debug, Deserialize)]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<FilterXml>,
    #[serde(rename = "Expiration")]
    expiration: Option<ExpirationXml>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent: Option<NoncurrentXml>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<AbortXml>,
    #[serde(rename = "Transition")]
    transition: Option<serde::de::IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition")]
    noncurrent_transition: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
struct FilterXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<TagXml>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    gt: Option<u64>,
    #[serde(rename = "ObjectSizeLessThan")]
    lt: Option<u64>,
    #[serde(rename = "And")]
    and: Option<AndXml>,
}

#[derive(Debug, Deserialize)]
struct AndXml {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagXml>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    gt: Option<u64>,
    #[serde(rename = "ObjectSizeLessThan")]
    lt: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct TagXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct ExpirationXml {
    #[serde(rename = "Days")]
    days: Option<i64>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    delete_marker: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays")]
    days: Option<i64>,
    #[serde(rename = "NewerNoncurrentVersions")]
    newer: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<i64>,
}

impl xml::RequestDocument for LifecycleXml {
    const ROOT: &'static str = "LifecycleConfiguration";
}

fn positive(v: Option<i64>, what: &str) -> Result<Option<u32>, ApiError> {
    match v {
        None => Ok(None),
        Some(n) if n > 0 && n <= 1_000_000 => Ok(Some(n as u32)),
        Some(_) => {
            Err(ApiError::invalid_argument(format!("'{what}' for Expiration action must be a positive integer")))
        }
    }
}

fn parse_date(s: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::invalid_argument("'Date' must be at midnight GMT");
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).map_err(|_| bad())?;
    let t = t.to_offset(time::UtcOffset::UTC);
    if t.hour() != 0 || t.minute() != 0 || t.second() != 0 || t.nanosecond() != 0 {
        return Err(bad());
    }
    u64::try_from(t.unix_timestamp() * 1000).map_err(|_| bad())
}

/// Parses and validates a PutBucketLifecycleConfiguration body.
pub fn parse(body: &[u8]) -> Result<Lifecycle, ApiError> {
    let doc: LifecycleXml = xml::parse(body)?;
    if doc.rules.is_empty() || doc.rules.len() > 1000 {
        return Err(ApiError::malformed_xml());
    }
    let mut rules = Vec::with_capacity(doc.rules.len());
    for (i, r) in doc.rules.into_iter().enumerate() {
        let id = r.id.unwrap_or_else(|| format!("rule-{}", i + 1));
        if id.len() > 255 {
            return Err(ApiError::invalid_argument("ID length should not exceed allowed limit of 255"));
        }
        if rules.iter().any(|x: &Rule| x.id == id) {
            return Err(ApiError::invalid_argument("Rule ID must be unique. Found same ID for more than one rule"));
        }
        let enabled = match r.status.as_str() {
            "Enabled" => true,
            "Disabled" => false,
            _ => return Err(ApiError::malformed_xml()),
        };
        if r.transition.is_some() || r.noncurrent_transition.is_some() {
            return Err(ApiError::not_implemented("Lifecycle transitions (this server has one storage class)"));
        }
        let legacy_prefix = r.prefix.is_some();
        let filter = match (r.prefix, r.filter) {
            (Some(_), Some(_)) => return Err(ApiError::malformed_xml()),
            (Some(p), None) => Filter { prefix: p, ..Filter::default() },
            (None, None) => Filter::default(),
            (None, Some(f)) => {
                let parts = [f.prefix.is_some(), f.tag.is_some(), f.gt.is_some(), f.lt.is_some(), f.and.is_some()];
                if parts.iter().filter(|p| **p).count() > 1 {
                    return Err(ApiError::malformed_xml());
                }
                match f.and {
                    Some(a) => Filter {
                        prefix: a.prefix.unwrap_or_default(),
                        tags: a.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                        size_greater_than: a.gt,
                        size_less_than: a.lt,
                    },
                    None => Filter {
                        prefix: f.prefix.unwrap_or_default(),
                        tags: f.tag.into_iter().map(|t| (t.key, t.value)).collect(),
                        size_greater_than: f.gt,
                        size_less_than: f.lt,
                    },
                }
            }
        };
        if let (Some(g), Some(l)) = (filter.size_greater_than, filter.size_less_than) {
            if g >= l {
                return Err(ApiError::invalid_argument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan"));
            }
        }
        let mut rule = Rule {
            id,
            enabled,
            filter,
            legacy_prefix,
            expiration_days: None,
            expiration_date_ms: None,
            expired_delete_marker: false,
            noncurrent_days: None,
            newer_noncurrent_versions: None,
            abort_multipart_days: None,
        };
        if let Some(e) = r.expiration {
            let given = [e.days.is_some(), e.date.is_some(), e.delete_marker.is_some()];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(ApiError::malformed_xml());
            }
            rule.expiration_days = positive(e.days, "Days")?;
            rule.expiration_date_ms = e.date.as_deref().map(parse_date).transpose()?;
            rule.expired_delete_marker = e.delete_marker.unwrap_or(false);
        }
        if let Some(n) = r.noncurrent {
            rule.noncurrent_days = positive(n.days, "NoncurrentDays")?;
            rule.newer_noncurrent_versions = positive(n.newer, "NewerNoncurrentVersions")?;
            if rule.noncurrent_days.is_none() {
                return Err(ApiError::malformed_xml());
            }
        }
        if let Some(a) = r.abort {
            rule.abort_multipart_days = positive(a.days, "DaysAfterInitiation")?;
            if rule.abort_multipart_days.is_none() {
                return Err(ApiError::malformed_xml());
            }
            if !rule.filter.tags.is_empty() {
                return Err(ApiError::invalid_argument(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
        }
        let has_action = rule.expiration_days.is_some()
            || rule.expiration_date_ms.is_some()
            || rule.expired_delete_marker
            || rule.noncurrent_days.is_some()
            || rule.abort_multipart_days.is_some();
        if !has_action {
            return Err(ApiError::malformed_xml());
        }
        rules.push(rule);
    }
    Ok(Lifecycle { rules })
}

/// The configuration as GetBucketLifecycleConfiguration returns it.
pub fn render(config: &Lifecycle) -> String {
    let mut w = XmlWriter::new("LifecycleConfiguration");
    for r in &config.rules {
        w.open("Rule");
        w.text("ID", &r.id);
        let f = &r.filter;
        if r.legacy_prefix {
            w.text("Prefix", &f.prefix);
        } else {
            render_filter(&mut w, f);
        }
        w.text("Status", if r.enabled { "Enabled" } else { "Disabled" });
        if r.expiration_days.is_some() || r.expiration_date_ms.is_some() || r.expired_delete_marker {
            w.open("Expiration");
            if let Some(d) = r.expiration_days {
                w.text("Days", &d.to_string());
            }
            if let Some(ms) = r.expiration_date_ms {
                w.text("Date", &xml::iso8601_ms(ms).replace(".000Z", "Z"));
            }
            if r.expired_delete_marker {
                w.text("ExpiredObjectDeleteMarker", "true");
            }
            w.close();
        }
        if let Some(d) = r.noncurrent_days {
            w.open("NoncurrentVersionExpiration").text("NoncurrentDays", &d.to_string());
            if let Some(n) = r.newer_noncurrent_versions {
                w.text("NewerNoncurrentVersions", &n.to_string());
            }
            w.close();
        }
        if let Some(d) = r.abort_multipart_days {
            w.open("AbortIncompleteMultipartUpload").text("DaysAfterInitiation", &d.to_string()).close();
        }
        w.close();
    }
    w.finish()
}

fn render_filter(w: &mut XmlWriter, f: &Filter) {
    w.open("Filter");
    let parts = usize::from(!f.prefix.is_empty())
        + f.tags.len()
        + usize::from(f.size_greater_than.is_some())
        + usize::from(f.size_less_than.is_some());
    if parts > 1 {
        w.open("And");
    }
    if !f.prefix.is_empty() || parts == 0 {
        w.text("Prefix", &f.prefix);
    }
    for (k, v) in &f.tags {
        w.open("Tag").text("Key", k).text("Value", v).close();
    }
    if let Some(g) = f.size_greater_than {
        w.text("ObjectSizeGreaterThan", &g.to_string());
    }
    if let Some(l) = f.size_less_than {
        w.text("ObjectSizeLessThan", &l.to_string());
    }
    if parts > 1 {
        w.close();
    }
    w.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>")
    }

    #[test]
    fn parse_render_and_validate() {
        let body = doc("<Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>t</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule><Rule><Filter><Prefix></Prefix></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule><Rule><ID>d</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>");
        let c = parse(body.as_bytes()).expect("valid");
        assert_eq!(c.rules.len(), 3);
        let r = &c.rules[0];
        assert_eq!((r.expiration_days, r.noncurrent_days, r.newer_noncurrent_versions), (Some(30), Some(5), Some(2)));
        assert!(r.filter.matches("logs/a", &[("t".into(), "v".into())], 11));
        assert!(!r.filter.matches("logs/a", &[], 11));
        assert!(!r.filter.matches("logs/a", &[("t".into(), "v".into())], 10));
        assert_eq!(c.rules[1].abort_multipart_days, Some(7));
        assert!(!c.rules[1].enabled);
        assert_eq!(c.rules[2].filter.prefix, "old/");
        // What is rendered parses back to the same rules.
        assert_eq!(parse(render(&c).as_bytes()).expect("round trip"), c);

        let code = |b: &str| parse(b.as_bytes()).err().map(|e| e.code);
        use crate::error::S3ErrorCode::*;
        assert_eq!(code(&doc("")), Some(MalformedXML));
        assert_eq!(
            code(&doc("<Rule><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>")),
            Some(MalformedXML)
        );
        assert_eq!(code(&doc("<Rule><Status>Enabled</Status></Rule>")), Some(MalformedXML));
        assert_eq!(
            code(&doc("<Rule><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>")),
            Some(InvalidArgument)
        );
        assert_eq!(
            code(&doc(
                "<Rule><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration></Rule>"
            )),
            Some(InvalidArgument)
        );
        assert_eq!(
            code(&doc("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>")),
            Some(InvalidArgument)
        );
        assert_eq!(
            code(&doc("<Rule><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>")),
            Some(MalformedXML)
        );
    }
}
