//! Label sets of the log metrics and the two ways their values stay bounded: a closed
//! set ([`closed`]) or the first N distinct values ([`BoundedLabel`]).

use std::sync::Arc;

use prometheus_client::encoding::{
    EncodeLabelKey, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder,
};

/// `value` if it is in `set`, else `other`.
pub(super) fn closed(value: &str, set: &[&'static str]) -> &'static str {
    closed_index(value, set).map_or("other", |i| set[i])
}

/// The position of `value` in `set`, for caches indexed like the set (`None`: `other`).
pub(super) fn closed_index(value: &str, set: &[&'static str]) -> Option<usize> {
    set.iter().position(|s| *s == value)
}

pub(super) use common::labels::BoundedLabel;

/// A label value from a closed set.
pub(super) type Str = &'static str;
/// A label value kept by a [`BoundedLabel`].
pub(super) type Shared = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DeliveryLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) daemon: Str,
    pub(super) status: Str,
    pub(super) dsn_class: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DelayLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) daemon: Str,
    pub(super) stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StatusLabel {
    pub(super) status: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StageLabel {
    pub(super) stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PipeDelayLabels {
    pub(super) relay: Shared,
    pub(super) stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct AfterStageLabel {
    pub(super) after_stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcAfterStageLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) after_stage: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SaslMethodLabel {
    pub(super) sasl_method: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcSaslMethodLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) sasl_method: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CodeLabel {
    pub(super) code: Option<u16>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CommandLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) command: Str,
    pub(super) result: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RejectLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) action: Str,
    pub(super) stage: Str,
    pub(super) code: Option<u16>,
    pub(super) enhanced_code: Shared,
    pub(super) reason: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(super) struct TlsLabels {
    pub(super) trust: Str,
    pub(super) protocol: Str,
    pub(super) cipher: Option<Shared>,
}

// By hand because the `cipher` label must be absent, not empty, unless enabled.
impl EncodeLabelSet for TlsLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        fn label(
            encoder: &mut LabelSetEncoder<'_>,
            key: &str,
            value: &str,
        ) -> Result<(), std::fmt::Error> {
            let mut label = encoder.encode_label();
            let mut key_encoder = label.encode_label_key()?;
            EncodeLabelKey::encode(&key, &mut key_encoder)?;
            let mut value_encoder = key_encoder.encode_label_value()?;
            EncodeLabelValue::encode(&value, &mut value_encoder)?;
            value_encoder.finish()
        }
        label(encoder, "trust", self.trust)?;
        label(encoder, "protocol", self.protocol)?;
        if let Some(cipher) = &self.cipher {
            label(encoder, "cipher", cipher)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcActionLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) action: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcTypeLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) r#type: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TypeLabel {
    pub(super) r#type: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ActionLabel {
    pub(super) action: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ViolationLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) violation: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SeverityLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) daemon: Str,
    pub(super) severity: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ProgramLabel {
    pub(super) program: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DsnLabel {
    pub(super) dsn: Shared,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SvcDaemonLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) daemon: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ConnectErrorLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) daemon: Str,
    pub(super) reason: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CheckActionLabels {
    pub(super) postfix_instance: Shared,
    pub(super) service: Shared,
    pub(super) action: Str,
    pub(super) part: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub(super) reason: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct TestLabel {
    pub(super) test: Str,
}

/// kumina's `postfix_unsupported_log_entries_total` labels: the daemon and the severity
/// (`""` when the line has none).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ServiceLevelLabels {
    pub(super) service: Str,
    pub(super) level: Str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DkimLabels {
    pub(super) subject: Shared,
    pub(super) domain: Shared,
}
