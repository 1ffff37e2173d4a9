//! Counters from ExtendedLog lines in any `LogFormat`: FTP commands by verb and reply class.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

use crate::logformat::LogFormat;

type L2 = [(&'static str, &'static str); 2];

/// The verbs kept as `command` label values (RFC 959 and its extensions, ProFTPd's `EXIT`
/// pseudo-command); others are `other`.
pub const COMMANDS: [&str; 58] = [
    "ABOR", "ACCT", "ADAT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CWD", "DELE", "EPRT", "EPSV",
    "EXIT", "FEAT", "HELP", "HOST", "LANG", "LIST", "MDTM", "MFF", "MFMT", "MKD", "MLSD", "MLST",
    "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "REIN",
    "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU", "STRU",
    "SYST", "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD", "CLNT", "CSID",
];

/// The command counters, shared by every ExtendedLog source.
#[derive(Debug, Clone, Default)]
pub struct CommandMetrics {
    commands: Family<L2, Counter>,
}

impl CommandMetrics {
    /// Registers `proftpd_commands_total`.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "proftpd_commands",
            "FTP commands by verb (known verbs; others are `other`) and reply class (2xx, 3xx, 4xx, 5xx, none)",
            self.commands.clone(),
        );
    }

    fn count(&self, command: &str, status: Option<&str>) {
        let upper = command.to_ascii_uppercase();
        let cmd = COMMANDS
            .iter()
            .find(|c| **c == upper)
            .copied()
            .unwrap_or("other");
        let class = match status.and_then(|s| s.as_bytes().first()) {
            Some(b'1') => "1xx",
            Some(b'2') => "2xx",
            Some(b'3') => "3xx",
            Some(b'4') => "4xx",
            Some(b'5') => "5xx",
            _ => "none",
        };
        self.commands
            .get_or_create(&[("command", cmd), ("code_class", class)])
            .inc();
    }
}

/// One ExtendedLog source: its format and the shared counters.
#[derive(Debug, Clone)]
pub struct ExtendedLog {
    format: Arc<LogFormat>,
    metrics: CommandMetrics,
}

impl ExtendedLog {
    /// A handler for lines of `format`.
    pub fn new(format: LogFormat, metrics: CommandMetrics) -> Self {
        Self {
            format: Arc::new(format),
            metrics,
        }
    }
}

impl LineHandler for ExtendedLog {
    fn handle_line(&self, line: &str) -> LineOutcome {
        if line.trim().is_empty() {
            return LineOutcome::Handled;
        }
        match self.format.parse(line) {
            Some(v) => {
                if let Some(cmd) = v.command {
                    self.metrics.count(cmd, v.status);
                }
                LineOutcome::Recognised
            }
            None => LineOutcome::Unsupported("format_mismatch".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::logformat::DEFAULT_FORMAT;

    #[test]
    fn commands_by_verb_and_class() {
        let m = CommandMetrics::default();
        let h = ExtendedLog::new(LogFormat::new(DEFAULT_FORMAT).unwrap(), m.clone());
        for l in [
            r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:10:00:00 +0000] "STOR a.txt" 226 10"#,
            r#"127.0.0.1 UNKNOWN alice [02/Dec/2026:10:00:00 +0000] "RETR missing.txt" 550 -"#,
            r#"127.0.0.1 UNKNOWN - [02/Dec/2026:10:00:00 +0000] "PASS (hidden)" 530 -"#,
            r#"127.0.0.1 UNKNOWN - [02/Dec/2026:10:00:00 +0000] "XYZZY x" 500 -"#,
        ] {
            assert_eq!(h.handle_line(l), LineOutcome::Recognised, "{l}");
        }
        assert_eq!(
            h.handle_line("not this format"),
            LineOutcome::Unsupported("format_mismatch".into())
        );
        let mut r = Registry::default();
        m.register(&mut r);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        for want in [
            "proftpd_commands_total{command=\"STOR\",code_class=\"2xx\"} 1",
            "proftpd_commands_total{command=\"RETR\",code_class=\"5xx\"} 1",
            "proftpd_commands_total{command=\"PASS\",code_class=\"5xx\"} 1",
            "proftpd_commands_total{command=\"other\",code_class=\"5xx\"} 1",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }
}
