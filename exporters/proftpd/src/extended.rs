//! Counters from ExtendedLog lines in any `LogFormat`: FTP commands by verb and reply class,
//! and, when the collector gives them this log, transfers (with millisecond durations from
//! `%{transfer-millisecs}`) and logins.
//!
//! A transfer is a RETR, STOR, STOU or APPE line that moved data or says it succeeded, and a
//! DELE with a 2xx reply: the lines the TransferLog writes. A RETR of a missing file
//! (`550 failed - -`) started nothing and counts only as a command, as in the TransferLog.

use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use common::follow::{LineHandler, LineOutcome};

use crate::logformat::{Field, LogFormat, Values};
use crate::systemlog::Logins;
use crate::transfers::TransferMetrics;
use crate::xferlog::{Direction, Protocol};

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
#[derive(Debug, Clone)]
pub struct CommandMetrics {
    commands: Family<L2, Counter>,
    /// Each series once looked up (label hashing was a tenth of a line's cost); filled on
    /// first use, so series appear as the families alone would show them.
    series: Arc<[[OnceLock<Counter>; CLASSES.len()]]>,
}

impl Default for CommandMetrics {
    fn default() -> Self {
        Self {
            commands: Family::default(),
            // The known verbs, then `other`.
            series: (0..=COMMANDS.len()).map(|_| Default::default()).collect(),
        }
    }
}

const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// The index of `command` in [`COMMANDS`], any case; `None` for another verb.
fn command_index(command: &str) -> Option<usize> {
    COMMANDS
        .iter()
        .position(|c| c.len() == command.len() && c.eq_ignore_ascii_case(command))
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

    fn count(&self, command: Option<usize>, status: Option<&str>) {
        let ci = command.unwrap_or(COMMANDS.len());
        let class = match status.and_then(|s| s.as_bytes().first()) {
            Some(b @ b'1'..=b'5') => usize::from(b - b'1'),
            _ => 5,
        };
        self.series[ci][class]
            .get_or_init(|| {
                let cmd = COMMANDS.get(ci).copied().unwrap_or("other");
                self.commands
                    .get_or_create(&[("command", cmd), ("code_class", CLASSES[class])])
                    .clone()
            })
            .inc();
    }
}

/// Whether lines of `format` can tell transfers: a command, a reply or transfer status, and
/// the bytes or the duration.
pub fn has_transfers(format: &LogFormat) -> bool {
    has_command(format)
        && (format.has(Field::TransferStatus) || format.has(Field::Status))
        && (format.has(Field::Bytes) || has_durations(format))
}

/// Whether lines of `format` have sub-second transfer durations.
pub fn has_durations(format: &LogFormat) -> bool {
    format.has(Field::TransferMillis) || format.has(Field::TransferSecs)
}

/// Whether lines of `format` can tell logins: the command and its reply code.
pub fn has_logins(format: &LogFormat) -> bool {
    has_command(format) && format.has(Field::Status)
}

fn has_command(format: &LogFormat) -> bool {
    format.has(Field::Command) || format.has(Field::Request)
}

/// One ExtendedLog source: its format and the shared counters.
#[derive(Debug, Clone)]
pub struct ExtendedLog {
    format: Arc<LogFormat>,
    metrics: CommandMetrics,
    transfers: Option<TransferMetrics>,
    logins: Option<Logins>,
}

impl ExtendedLog {
    /// A handler for lines of `format`, counting commands.
    pub fn new(format: LogFormat, metrics: CommandMetrics) -> Self {
        Self {
            format: Arc::new(format),
            metrics,
            transfers: None,
            logins: None,
        }
    }

    /// Also counts transfers into `metrics`.
    pub fn with_transfers(self, metrics: TransferMetrics) -> Self {
        Self {
            transfers: Some(metrics),
            ..self
        }
    }

    /// Also counts logins (PASS replies) into `logins`.
    pub fn with_logins(self, logins: Logins) -> Self {
        Self {
            logins: Some(logins),
            ..self
        }
    }

    fn transfer(&self, m: &TransferMetrics, cmd: &str, v: &Values<'_>) {
        let direction = match cmd {
            "RETR" => Direction::Download,
            "STOR" | "STOU" | "APPE" => Direction::Upload,
            "DELE" => Direction::Delete,
            _ => return,
        };
        let ok_reply = v.status.is_some_and(|s| s.starts_with('2'));
        let bytes = v.bytes.and_then(|b| b.parse::<u64>().ok());
        let complete = match (direction, v.transfer_status) {
            (Direction::Delete, _) => ok_reply,
            (_, Some(st)) => st == "success",
            (_, None) => ok_reply,
        };
        // What the TransferLog would have no line for: a delete that failed, a transfer
        // refused before its data connection (no bytes, no duration, not a success).
        let started = complete || bytes.is_some() || v.transfer_millis.is_some();
        if (direction == Direction::Delete && !complete) || !started {
            return;
        }
        let protocol = v.protocol.map_or(Protocol::Ftp, Protocol::parse);
        let seconds = v.transfer_millis.map(|ms| ms / 1000.0);
        m.record(
            direction,
            complete,
            protocol,
            bytes.unwrap_or(0),
            seconds,
            false,
        );
    }

    fn login(&self, logins: &Logins, cmd: &str, v: &Values<'_>) {
        if cmd != "PASS" {
            return;
        }
        // The SystemLog's protocol vocabulary: FTPS sessions are ftp, SFTP and SCP ssh2.
        let protocol = match v.protocol {
            Some("sftp" | "scp" | "ssh2") => "ssh2",
            _ => "ftp",
        };
        match v.status.and_then(|s| s.as_bytes().first()) {
            Some(b'2') => logins.record(protocol, true),
            Some(b'5') => logins.record(protocol, false),
            _ => {}
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
                    let index = command_index(cmd);
                    self.metrics.count(index, v.status);
                    if let Some(verb) = index.map(|i| COMMANDS[i]) {
                        if let Some(m) = &self.transfers {
                            self.transfer(m, verb, &v);
                        }
                        if let Some(l) = &self.logins {
                            self.login(l, verb, &v);
                        }
                    }
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

    const METRICS: &str =
        "%{epoch} %{protocol} %m %s %{transfer-status} %b %{transfer-millisecs} %R %a %u %E";

    fn encode(f: impl Fn(&mut Registry)) -> String {
        let mut r = Registry::default();
        f(&mut r);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        s
    }

    #[test]
    fn transfers_and_logins_from_the_metrics_format() {
        let format = LogFormat::new(METRICS).unwrap();
        assert!(has_transfers(&format) && has_durations(&format) && has_logins(&format));
        let (t, logins) = (TransferMetrics::new(), Logins::default());
        let h = ExtendedLog::new(format, CommandMetrics::default())
            .with_transfers(t.clone())
            .with_logins(logins.clone());
        for l in [
            "1796233169 ftp USER 331 - - - 0 127.0.0.1 - ",
            "1796233169 ftp PASS 230 - - - 2 127.0.0.1 carol ",
            "1796233169 ftp STOR 226 success 4096 250 0 127.0.0.1 carol ",
            "1796233169 ftp STOR 226 success - 3 0 127.0.0.1 carol ",
            "1796233169 ftp RETR 426 failed 65536 1500 0 127.0.0.1 carol ",
            "1796233169 ftp RETR 550 failed - - 0 127.0.0.1 carol ",
            "1796233169 ftp DELE 250 - 4096 - 0 127.0.0.1 carol ",
            "1796233169 ftp DELE 550 - - - 0 127.0.0.1 carol ",
            "1796233169 ftps APPE 226 success 10 7 0 127.0.0.1 carol ",
            "1796233169 ftps PASS 530 - - - 2 127.0.0.1 - ",
            "1796233169 sftp PASS 230 - - - 2 127.0.0.1 carol ",
            "1796233169 ftp EXIT - - - - 0 127.0.0.1 carol Quit",
        ] {
            assert_eq!(h.handle_line(l), LineOutcome::Recognised, "{l}");
        }
        let s = encode(|r| t.register(r));
        for want in [
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftp\"} 2",
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftps\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"incomplete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"complete\",protocol=\"ftp\"} 0",
            "proftpd_transfers_total{direction=\"delete\",status=\"complete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"delete\",status=\"incomplete\",protocol=\"ftp\"} 0",
            "proftpd_transfer_bytes_total{direction=\"upload\",protocol=\"ftp\"} 4096",
            "proftpd_transfer_bytes_total{direction=\"download\",protocol=\"ftp\"} 65536",
            "proftpd_transfer_bytes_total{direction=\"delete\",protocol=\"ftp\"} 4096",
            // Three uploads: 0.25 s, 0.003 s and 0.007 s; the download took 1.5 s.
            "proftpd_transfer_duration_seconds_count{direction=\"upload\"} 3",
            "proftpd_transfer_duration_seconds_bucket{le=\"0.01\",direction=\"upload\"} 2",
            "proftpd_transfer_duration_seconds_sum{direction=\"download\"} 1.5",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
        let s = encode(|r| logins.register(r));
        for want in [
            "proftpd_logins_total{protocol=\"ftp\",result=\"success\"} 1",
            "proftpd_logins_total{protocol=\"ftp\",result=\"failure\"} 1",
            "proftpd_logins_total{protocol=\"ssh2\",result=\"success\"} 1",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }

    #[test]
    fn transfers_from_the_default_format_have_no_durations() {
        let format = LogFormat::new(DEFAULT_FORMAT).unwrap();
        assert!(has_transfers(&format) && !has_durations(&format));
        let t = TransferMetrics::new();
        let h = ExtendedLog::new(format, CommandMetrics::default()).with_transfers(t.clone());
        for l in [
            r#"127.0.0.1 UNKNOWN dave [02/Dec/2026:10:00:00 +0000] "STOR a "quoted" name.txt" 226 10"#,
            r#"127.0.0.1 UNKNOWN dave [02/Dec/2026:10:00:00 +0000] "RETR big.bin" 426 8192"#,
            r#"127.0.0.1 UNKNOWN dave [02/Dec/2026:10:00:00 +0000] "RETR missing.txt" 550 -"#,
        ] {
            assert_eq!(h.handle_line(l), LineOutcome::Recognised, "{l}");
        }
        let s = encode(|r| t.register(r));
        for want in [
            "proftpd_transfers_total{direction=\"upload\",status=\"complete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"incomplete\",protocol=\"ftp\"} 1",
            "proftpd_transfers_total{direction=\"download\",status=\"complete\",protocol=\"ftp\"} 0",
            "proftpd_transfer_bytes_total{direction=\"download\",protocol=\"ftp\"} 8192",
            "proftpd_transfer_duration_seconds_count{direction=\"upload\"} 0",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
    }

    #[test]
    fn formats_without_the_fields_count_commands_only() {
        let auth = LogFormat::new("%v [%P] %h %t \"%r\" %s").unwrap();
        assert!(!has_transfers(&auth) && has_logins(&auth));
        let bare = LogFormat::new("%t %a %F").unwrap();
        assert!(!has_transfers(&bare) && !has_logins(&bare));
    }
}
