//! Live sessions from ProFTPd's scoreboard, through `ftpwho -o json -f FILE`: the binary
//! scoreboard's layout changes between versions, and the ftpwho of the same package reads
//! it, so the exporter reads ftpwho's JSON.
//!
//! `{"server": {"server_type", "pid", "started_ms"}, "connections": [{"pid", "user",
//! "protocol", "authenticating", "idling", "uploading", "downloading", "command", …}]}`.
//! Times are milliseconds of whole seconds. 1.3.8's `transfer_duration_ms` is in
//! microseconds (ftpwho multiplies an elapsed time already in milliseconds by 1000), so
//! it is not used.

use serde::Deserialize;

/// The server entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Server {
    /// `standalone` or `inetd`.
    #[serde(default)]
    pub server_type: String,
    /// The master's pid.
    #[serde(default)]
    pub pid: u64,
    /// When it started, unix milliseconds.
    #[serde(default)]
    pub started_ms: u64,
}

/// One connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Connection {
    /// The session's protocol (`ftp`, `ftps`, `sftp`, `scp`).
    #[serde(default)]
    pub protocol: Option<String>,
    /// Before login.
    #[serde(default)]
    pub authenticating: bool,
    /// Waiting for a command.
    #[serde(default)]
    pub idling: bool,
    /// Receiving a file.
    #[serde(default)]
    pub uploading: bool,
    /// Sending a file.
    #[serde(default)]
    pub downloading: bool,
}

/// ftpwho's JSON.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Scoreboard {
    /// The server, when ftpwho found one.
    #[serde(default)]
    pub server: Option<Server>,
    /// Its connections.
    #[serde(default)]
    pub connections: Vec<Connection>,
}

impl Connection {
    /// The `state` label: authenticating, uploading, downloading, idle or other.
    pub fn state(&self) -> &'static str {
        if self.authenticating {
            "authenticating"
        } else if self.uploading {
            "uploading"
        } else if self.downloading {
            "downloading"
        } else if self.idling {
            "idle"
        } else {
            "other"
        }
    }

    /// The `protocol` label, bounded.
    pub fn protocol(&self) -> &'static str {
        match self.protocol.as_deref() {
            Some("ftp") | None => "ftp",
            Some("ftps") => "ftps",
            Some("sftp") => "sftp",
            Some("scp") => "scp",
            Some(_) => "other",
        }
    }
}

/// Parses ftpwho's JSON output.
pub fn parse(json: &str) -> Result<Scoreboard, serde_json::Error> {
    serde_json::from_str(json)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sessions_and_states() {
        let s = parse(
            r#"{"server": {"server_type": "standalone", "pid": 20804, "started_ms": 1795388549000},
            "connections": [
              {"pid": 21001, "user": "alice", "protocol": "ftp", "idling": true, "idle_since_ms": 1},
              {"pid": 21003, "authenticating": true, "protocol": "ftp", "idling": true},
              {"pid": 21004, "user": "bob", "protocol": "ftps", "command": "STOR", "uploading": true,
               "transfer_duration_ms": 2253000},
              {"pid": 21005, "protocol": "sftp", "downloading": true},
              {"pid": 21006, "protocol": "gopher"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.server.as_ref().unwrap().pid, 20804);
        let got: Vec<(&str, &str)> = s
            .connections
            .iter()
            .map(|c| (c.protocol(), c.state()))
            .collect();
        assert_eq!(
            got,
            [
                ("ftp", "idle"),
                ("ftp", "authenticating"),
                ("ftps", "uploading"),
                ("sftp", "downloading"),
                ("other", "other")
            ]
        );
        assert_eq!(parse("{}").unwrap(), Scoreboard::default());
        assert!(parse("[").is_err());
    }
}
