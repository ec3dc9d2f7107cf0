//! Wildcard patterns (`*` any run of characters, `?` one character) and
//! policy variables (`${aws:username}`, `${*}`, `${?}`, `${$}`).
//!
//! A pattern is compiled once, when its document is parsed, into literal and
//! wildcard tokens; variables are resolved at evaluation time from the
//! request's condition values, and what they insert is always literal text
//! (a user name containing `*` matches only itself).

use crate::condition::ConditionValues;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Star,
    Question,
    Variable { key: String, default: Option<String> },
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    source: String,
}

impl Pattern {
    /// Compiles `text`; `variables` enables `${...}` (policy version 2012-10-17).
    pub fn compile(text: &str, variables: bool) -> Pattern {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let flush = |literal: &mut String, tokens: &mut Vec<Token>| {
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(literal)));
            }
        };
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                if let Some(end) = rest.find('}') {
                    let inner = &rest[2..end];
                    match inner {
                        "*" => literal.push('*'),
                        "?" => literal.push('?'),
                        "$" => literal.push('$'),
                        _ => {
                            flush(&mut literal, &mut tokens);
                            let (key, default) = match inner.split_once(',') {
                                Some((k, d)) => {
                                    (k.trim(), Some(d.trim().trim_matches('\'').trim_matches('"').to_string()))
                                }
                                None => (inner.trim(), None),
                            };
                            tokens.push(Token::Variable { key: key.to_string(), default });
                        }
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            match c {
                '*' => {
                    flush(&mut literal, &mut tokens);
                    tokens.push(Token::Star);
                }
                '?' => {
                    flush(&mut literal, &mut tokens);
                    tokens.push(Token::Question);
                }
                other => literal.push(other),
            }
            rest = &rest[c.len_utf8()..];
        }
        flush(&mut literal, &mut tokens);
        Pattern { tokens, source: text.to_string() }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the pattern has `*` or `?` (after `${*}`-style escapes).
    pub fn has_wildcards(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, Token::Star | Token::Question))
    }

    /// The pattern with its variables resolved: `None` when a variable has
    /// no value (AWS: the element then matches nothing).
    fn resolve(&self, ctx: &ConditionValues) -> Option<Vec<Token>> {
        let mut out = Vec::with_capacity(self.tokens.len());
        for t in &self.tokens {
            match t {
                Token::Variable { key, default } => {
                    let value = ctx.get(key).and_then(|v| v.first()).cloned().or_else(|| default.clone())?;
                    out.push(Token::Literal(value));
                }
                other => out.push(other.clone()),
            }
        }
        Some(out)
    }

    /// Matches `text` (case-sensitive unless `ignore_case`).
    pub fn matches(&self, text: &str, ctx: &ConditionValues, ignore_case: bool) -> bool {
        let Some(tokens) = self.resolve(ctx) else { return false };
        if ignore_case {
            let lower: Vec<Token> = tokens
                .into_iter()
                .map(|t| match t {
                    Token::Literal(s) => Token::Literal(s.to_lowercase()),
                    other => other,
                })
                .collect();
            glob(&lower, &text.to_lowercase())
        } else {
            glob(&tokens, text)
        }
    }

    /// Exact equality with variables resolved (wildcards are literal characters).
    pub fn equals(&self, text: &str, ctx: &ConditionValues, ignore_case: bool) -> bool {
        let Some(tokens) = self.resolve(ctx) else { return false };
        let resolved: String = tokens
            .iter()
            .map(|t| match t {
                Token::Literal(s) => s.as_str(),
                Token::Star => "*",
                Token::Question => "?",
                Token::Variable { .. } => "",
            })
            .collect();
        if ignore_case {
            resolved.to_lowercase() == text.to_lowercase()
        } else {
            resolved == text
        }
    }

    /// The value with variables resolved, as text (for numeric, date, IP values).
    pub fn resolved_text(&self, ctx: &ConditionValues) -> Option<String> {
        let tokens = self.resolve(ctx)?;
        Some(
            tokens
                .iter()
                .map(|t| match t {
                    Token::Literal(s) => s.clone(),
                    Token::Star => "*".into(),
                    Token::Question => "?".into(),
                    Token::Variable { .. } => String::new(),
                })
                .collect(),
        )
    }
}

/// Glob matching over tokens (iterative, with backtracking on the last `*`).
fn glob(tokens: &[Token], text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    // Expand literals into single characters for a simple matcher.
    let mut pat: Vec<Option<char>> = Vec::new(); // None = '?', Some(c) = literal char
    let mut stars: Vec<bool> = Vec::new(); // parallel: true = '*'
    for t in tokens {
        match t {
            Token::Literal(s) => {
                for c in s.chars() {
                    pat.push(Some(c));
                    stars.push(false);
                }
            }
            Token::Question => {
                pat.push(None);
                stars.push(false);
            }
            Token::Star => {
                pat.push(None);
                stars.push(true);
            }
            Token::Variable { .. } => return false,
        }
    }
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < chars.len() {
        if p < pat.len() && !stars[p] && (pat[p].is_none() || pat[p] == Some(chars[t])) {
            p += 1;
            t += 1;
        } else if p < pat.len() && stars[p] {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pat.len() && stars[p] {
        p += 1;
    }
    p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::compile(p, true).matches(t, &ConditionValues::new(), false)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at/all"));
        assert!(m("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/e/y"));
        assert!(!m("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("s3:Get*", "s3:GetObject"));
        assert!(!m("s3:Get*", "s3:getobject"));
        assert!(Pattern::compile("s3:Get*", false).matches("s3:getobject", &ConditionValues::new(), true));
        assert!(m("é*", "été"));
    }

    #[test]
    fn variables() {
        let mut ctx = ConditionValues::new();
        ctx.insert("aws:username", "al*ce".to_string());
        let p = Pattern::compile("arn:aws:s3:::b/home/${aws:username}/*", true);
        assert!(p.matches("arn:aws:s3:::b/home/al*ce/x", &ctx, false));
        assert!(!p.matches("arn:aws:s3:::b/home/alXce/x", &ctx, false), "a substituted * is literal");
        assert!(!p.matches("arn:aws:s3:::b/home/al*ce/x", &ConditionValues::new(), false), "missing variable");
        let p = Pattern::compile("${aws:username, 'nobody'}", true);
        assert!(p.equals("nobody", &ConditionValues::new(), false));
        let p = Pattern::compile("a${*}b${?}${$}", true);
        assert!(p.equals("a*b?$", &ctx, false));
        assert!(!p.has_wildcards());
        let p = Pattern::compile("${aws:username}", false);
        assert!(p.equals("${aws:username}", &ctx, false), "2008-10-17 has no variables");
    }
}
