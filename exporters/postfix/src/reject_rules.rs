//! Reject reason classes: a closed, bounded set of label values derived from the free
//! reply text of smtpd/postscreen/cleanup reject lines by ordered regex rules.
//!
//! The built-in rules map to [`DEFAULT_REASONS`]. A YAML file can replace or extend them:
//!
//! ```yaml
//! mode: prepend          # prepend (default): tried before the built-in rules; replace: only these
//! rules:
//!   - reason: greylist
//!     match: '(?i)greylisted, see https://example\.org/'
//!   - reason: local_policy
//!     match: 'Our policy'
//! ```
//!
//! Unknown keys are rejected; a reason must match `[a-z0-9_]{1,40}` and there are at most
//! [`MAX_REASONS`] distinct reasons (plus `other`), so the label stays bounded. Errors
//! name the file, the line and the key.

use std::path::Path;
use std::sync::Arc;

use regex::{Regex, RegexSet};
use serde::Deserialize;

/// The reasons the built-in rules produce; `other` is what no rule matched.
pub const DEFAULT_REASONS: [&str; 11] = [
    "relay_denied",
    "unknown_user",
    "rbl",
    "helo",
    "sender_domain",
    "recipient_domain",
    "policy",
    "greylist",
    "rate_limit",
    "size",
    "other",
];

/// Upper bound on distinct reasons (built-in and configured together, `other` excluded).
pub const MAX_REASONS: usize = 32;

/// Built-in rules, tried in order; the first match wins. Case-insensitive. Specific
/// classes come before the broad `policy` catch-all for restriction wording.
const DEFAULT_RULES: [(&str, &str); 10] = [
    (
        "relay_denied",
        r"(?i)relay access denied|relaying denied|not permitted to relay|relay not permitted",
    ),
    (
        "unknown_user",
        r"(?i)user unknown|unknown user|no such user|undeliverable address|mailbox unavailable|recipient (address )?rejected: (undeliverable|user unknown|mailbox)|does not exist",
    ),
    (
        "rbl",
        r"(?i)blocked using|listed (in|on|by|at)\b|\bdnsbl\b|\brbl\b|spamhaus|block ?list|black ?list|deny ?list",
    ),
    (
        "greylist",
        r"(?i)grey ?list|gray ?list|postgrey|try again later|temporarily deferred",
    ),
    ("helo", r"(?i)\bhelo\b|\behlo\b"),
    (
        "sender_domain",
        r"(?i)sender address rejected: (domain not found|.*no (mx|a) record|.*unverified)",
    ),
    (
        "recipient_domain",
        r"(?i)recipient address rejected: (domain not found|.*no (mx|a) record)",
    ),
    (
        "size",
        r"(?i)message size exceeds|size limit|too (large|big)|exceeds (the )?(message )?size",
    ),
    (
        "rate_limit",
        r"(?i)too many (connections|messages|recipients|errors)|rate limit|rate exceeded|slow down|too much mail",
    ),
    (
        "policy",
        r"(?i)access denied|policy|address rejected|client host rejected|not authori[sz]ed|\bspf\b|dmarc|dkim|spam|authentication required|must be authenticated|\btls\b",
    ),
];

/// Classifies reply text into a bounded reason label.
#[derive(Debug, Clone)]
pub struct RejectRules {
    set: RegexSet,
    reasons: Vec<Arc<str>>,
    other: Arc<str>,
}

/// Why a rules file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File name.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// 1-based line number (best effort for values).
        line: usize,
        /// YAML path of the offending key, e.g. `rules[1].match`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    mode: Mode,
    rules: Vec<RuleEntry>,
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Prepend,
    Replace,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    reason: String,
    #[serde(rename = "match")]
    pattern: String,
}

impl Default for RejectRules {
    fn default() -> Self {
        Self::defaults()
    }
}

impl RejectRules {
    /// The built-in rules.
    pub fn defaults() -> Self {
        let rules: Vec<(String, String)> = DEFAULT_RULES
            .iter()
            .map(|(r, p)| (r.to_string(), p.to_string()))
            .collect();
        // The built-in patterns are tested; an empty rule set is the safe fallback.
        Self::build(&rules).unwrap_or_else(|_| Self::empty())
    }

    /// No rules: every text is `other`. Costs nothing to build (a placeholder while rules
    /// move, and the fallback of [`RejectRules::defaults`]).
    pub fn empty() -> Self {
        Self {
            set: RegexSet::empty(),
            reasons: Vec::new(),
            other: Arc::from("other"),
        }
    }

    fn build(rules: &[(String, String)]) -> Result<Self, (usize, regex::Error)> {
        // One compile of the set; the patterns are compiled one by one only to find which
        // one is bad when the set does not compile.
        let set = RegexSet::new(rules.iter().map(|(_, p)| p.as_str())).map_err(|e| {
            rules
                .iter()
                .enumerate()
                .find_map(|(i, (_, p))| Regex::new(p).err().map(|e| (i, e)))
                .unwrap_or((0, e))
        })?;
        // One shared Arc per distinct reason name, so label values are cheap clones.
        let mut names: Vec<Arc<str>> = Vec::new();
        let reasons = rules
            .iter()
            .map(|(r, _)| match names.iter().find(|n| ***n == **r) {
                Some(n) => n.clone(),
                None => {
                    let n: Arc<str> = Arc::from(r.as_str());
                    names.push(n.clone());
                    n
                }
            })
            .collect();
        Ok(Self {
            set,
            reasons,
            other: Arc::from("other"),
        })
    }

    /// Reads a YAML rules file (see the module docs).
    pub fn from_yaml_file(path: &Path) -> Result<Self, RulesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_yaml_str(&text, &file)
    }

    /// Parses YAML rules text; `file` names it in errors.
    pub fn from_yaml_str(text: &str, file: &str) -> Result<Self, RulesError> {
        let invalid = |line: usize, key: String, message: String| RulesError::Invalid {
            file: file.to_string(),
            line,
            key,
            message,
        };
        let parsed: RulesFile = serde_norway::from_str(text).map_err(|e| {
            let line = e.location().map_or(1, |l| l.line());
            let msg = e.to_string();
            // serde_norway prefixes the path (`rules[0]: unknown field …`) when it knows it.
            let (key, message) = match msg.split_once(": ") {
                Some((k, m)) if !k.contains(' ') => (k.to_string(), m.to_string()),
                _ => ("(document)".to_string(), msg),
            };
            invalid(line, key, message)
        })?;
        let mut rules = Vec::new();
        for (i, entry) in parsed.rules.iter().enumerate() {
            let valid_name = !entry.reason.is_empty()
                && entry.reason.len() <= 40
                && entry
                    .reason
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
            if !valid_name {
                return Err(invalid(
                    line_of(text, &entry.reason),
                    format!("rules[{i}].reason"),
                    format!("{:?} must match [a-z0-9_]{{1,40}}", entry.reason),
                ));
            }
            if let Err(e) = Regex::new(&entry.pattern) {
                return Err(invalid(
                    line_of(text, &entry.pattern),
                    format!("rules[{i}].match"),
                    format!("invalid regex: {e}"),
                ));
            }
            rules.push((entry.reason.clone(), entry.pattern.clone()));
        }
        if parsed.mode == Mode::Prepend {
            rules.extend(
                DEFAULT_RULES
                    .iter()
                    .map(|(r, p)| (r.to_string(), p.to_string())),
            );
        }
        let mut distinct: Vec<&str> = rules
            .iter()
            .map(|(r, _)| r.as_str())
            .filter(|r| *r != "other")
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > MAX_REASONS {
            return Err(invalid(
                line_of(text, "rules"),
                "rules".to_string(),
                format!(
                    "{} distinct reasons, at most {MAX_REASONS} allowed",
                    distinct.len()
                ),
            ));
        }
        Self::build(&rules).map_err(|(i, e)| {
            invalid(
                line_of(text, "rules"),
                format!("rules[{i}].match"),
                e.to_string(),
            )
        })
    }

    /// The reason for a reply text: the first matching rule, else `other`.
    pub fn classify(&self, text: &str) -> Arc<str> {
        // RegexSet reports every matching rule; the lowest index is the first in order.
        match self
            .set
            .matches(text)
            .iter()
            .next()
            .and_then(|i| self.reasons.get(i))
        {
            Some(r) => r.clone(),
            None => self.other.clone(),
        }
    }

    /// Every reason these rules can produce, `other` included (sorted, distinct).
    pub fn reasons(&self) -> Vec<String> {
        let mut v: Vec<String> = self.reasons.iter().map(|r| r.to_string()).collect();
        v.push("other".to_string());
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// 1-based line of the first occurrence of `needle` (1 when not found).
fn line_of(text: &str, needle: &str) -> usize {
    if needle.is_empty() {
        return 1;
    }
    text.find(needle).map_or(1, |i| {
        text.get(..i).map_or(0, |t| t.matches('\n').count()) + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classes_on_real_reply_texts() {
        let r = RejectRules::defaults();
        let cases = [
            ("<victim@example.org>: Relay access denied", "relay_denied"),
            (
                "<nosuchuser@mx.test.local>: Recipient address rejected: User unknown in local recipient table",
                "unknown_user",
            ),
            (
                "<x@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
                "unknown_user",
            ),
            (
                "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
                "rbl",
            ),
            ("<bad_helo!>: Helo command rejected: Invalid name", "helo"),
            (
                "<a@nx.example>: Sender address rejected: Domain not found",
                "sender_domain",
            ),
            (
                "<a@nx.example>: Recipient address rejected: Domain not found",
                "recipient_domain",
            ),
            (
                "<x@rejectme.test>: Recipient address rejected: policy says no",
                "policy",
            ),
            (
                "<a@warn.test>: Sender address rejected: Access denied",
                "policy",
            ),
            (
                "<a@b>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/",
                "greylist",
            ),
            ("Error: too many recipients", "rate_limit"),
            ("Message size exceeds fixed limit", "size"),
            (
                "<h@hold.test>: Recipient address triggers HOLD action",
                "other",
            ),
            ("Protocol error", "other"),
        ];
        for (text, want) in cases {
            assert_eq!(&*r.classify(text), want, "{text}");
        }
        assert_eq!(r.reasons(), {
            let mut v: Vec<String> = DEFAULT_REASONS.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        });
    }

    #[test]
    fn yaml_prepend_and_replace() {
        let r = RejectRules::from_yaml_str(
            "rules:\n  - reason: local_policy\n    match: 'policy says no'\n",
            "r.yml",
        )
        .unwrap();
        assert_eq!(
            &*r.classify("<x@rejectme.test>: Recipient address rejected: policy says no"),
            "local_policy"
        );
        assert_eq!(&*r.classify("Relay access denied"), "relay_denied");
        let r = RejectRules::from_yaml_str(
            "mode: replace\nrules:\n  - reason: mine\n    match: 'x'\n",
            "r.yml",
        )
        .unwrap();
        assert_eq!(&*r.classify("Relay access denied"), "other");
        assert_eq!(&*r.classify("x"), "mine");
        assert_eq!(r.reasons(), vec!["mine".to_string(), "other".to_string()]);
    }

    #[test]
    fn yaml_errors_name_file_line_and_key() {
        let e = RejectRules::from_yaml_str(
            "rules:\n  - reason: a\n    match: b\n    bogus: 1\n",
            "f.yml",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("f.yml:"), "{s}");
        assert!(s.contains("unknown field `bogus`"), "{s}");
        assert!(s.contains("rules[0]"), "{s}");

        let e = RejectRules::from_yaml_str("rules:\n  - reason: Bad-Name\n    match: b\n", "f.yml")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yml:2: rules[0].reason: \"Bad-Name\" must match [a-z0-9_]{1,40}"
        );

        let e = RejectRules::from_yaml_str(
            "rules:\n  - reason: ok\n    match: 'b'\n  - reason: ok2\n    match: '(unclosed'\n",
            "f.yml",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.starts_with("f.yml:5: rules[1].match: invalid regex"),
            "{s}"
        );

        let e = RejectRules::from_yaml_str("mode: sometimes\nrules: []\n", "f.yml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f.yml:1: mode: unknown variant `sometimes`"),
            "{e}"
        );

        let mut many = String::from("mode: replace\nrules:\n");
        for i in 0..=MAX_REASONS {
            many.push_str(&format!("  - reason: r{i}\n    match: 'x{i}'\n"));
        }
        let e = RejectRules::from_yaml_str(&many, "f.yml").unwrap_err();
        assert!(
            e.to_string()
                .contains("33 distinct reasons, at most 32 allowed"),
            "{e}"
        );

        let e = RejectRules::from_yaml_file(Path::new("/nonexistent/rules.yml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/rules.yml: cannot read"),
            "{e}"
        );
    }
}
