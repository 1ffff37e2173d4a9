//! Bounded label values: the one guard every exporter uses against label values that come
//! from the outside world (log text, program names, service names).

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

/// The value that every value past the cap (or outside the allow-list) becomes.
pub const OTHER: &str = "other";

/// Keeps the first `cap` distinct values of an open-ended label (or only the allowed
/// ones), then maps everything else to `other`.
///
/// Values are shared `Arc<str>`, so a label set built from them costs a reference-count
/// increment, not an allocation, on the hot path of a log follower. The empty value is
/// always kept (it means "not given" and costs no cardinality).
#[derive(Debug)]
pub struct BoundedLabel {
    cap: usize,
    allow: Option<HashSet<String>>,
    values: RwLock<Vec<Arc<str>>>,
    other: Arc<str>,
    empty: Arc<str>,
}

impl BoundedLabel {
    /// At most `cap` distinct values (the `seed` values count and are present from the
    /// start); with `allow`, only those values, whatever the cap.
    pub fn new(cap: usize, allow: Option<HashSet<String>>, seed: &[&str]) -> Self {
        Self {
            cap,
            allow,
            values: RwLock::new(seed.iter().map(|s| Arc::from(*s)).collect()),
            other: Arc::from(OTHER),
            empty: Arc::from(""),
        }
    }

    /// The label value to use for `value`: itself while there is room, `other` after.
    pub fn get(&self, value: &str) -> Arc<str> {
        if value.is_empty() {
            return self.empty.clone();
        }
        if let Some(allow) = &self.allow
            && !allow.contains(value)
        {
            return self.other.clone();
        }
        {
            let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(v) = values.iter().find(|v| ***v == *value) {
                return v.clone();
            }
            if values.len() >= self.cap {
                return self.other.clone();
            }
        }
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added it between the two locks.
        if let Some(v) = values.iter().find(|v| ***v == *value) {
            return v.clone();
        }
        if values.len() >= self.cap {
            return self.other.clone();
        }
        let v: Arc<str> = Arc::from(value);
        values.push(v.clone());
        v
    }

    /// Distinct values kept so far (without `other`).
    pub fn len(&self) -> usize {
        self.values
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no value has been kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_and_allow_list() {
        let b = BoundedLabel::new(2, None, &[]);
        assert_eq!(&*b.get("a"), "a");
        assert_eq!(&*b.get("b"), "b");
        assert_eq!(&*b.get("c"), "other");
        assert_eq!(&*b.get("a"), "a");
        assert_eq!(&*b.get(""), "");
        assert_eq!(b.len(), 2);
        let allow = BoundedLabel::new(32, Some(["submission".to_string()].into()), &[]);
        assert_eq!(&*allow.get("submission"), "submission");
        assert_eq!(&*allow.get("smtps"), "other");
        let seeded = BoundedLabel::new(1, None, &["postfix"]);
        assert_eq!(&*seeded.get("postfix"), "postfix");
        assert_eq!(&*seeded.get("postfix-out"), "other");
    }
}
