//! `doveadm service status`: the master's view of every service (2.3 and 2.4), one record per
//! service in any doveadm formatter (pager blocks by default).

use crate::doveadm::records;

/// One service's status, the values as numbers (`y`/`n` as 1/0).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// The service name (`imap`, `imap-login`, `auth`, ...).
    pub name: String,
    /// The known keys present in the record, with their values.
    pub values: Vec<(&'static Field, f64)>,
}

/// A key of the status and the metric it becomes.
#[derive(Debug, PartialEq)]
pub struct Field {
    /// doveadm's key.
    pub key: &'static str,
    /// Metric name (a counter without `_total`).
    pub metric: &'static str,
    /// Whether it is a counter.
    pub counter: bool,
    /// HELP text.
    pub help: &'static str,
}

/// The keys exported; others (a later version's) are ignored.
pub const FIELDS: [Field; 12] = [
    Field {
        key: "process_count",
        metric: "dovecot_service_processes",
        counter: false,
        help: "Processes the service runs now",
    },
    Field {
        key: "process_avail",
        metric: "dovecot_service_processes_available",
        counter: false,
        help: "Processes of the service that can take another client",
    },
    Field {
        key: "process_limit",
        metric: "dovecot_service_process_limit",
        counter: false,
        help: "The service's process_limit",
    },
    Field {
        key: "client_limit",
        metric: "dovecot_service_client_limit",
        counter: false,
        help: "The service's client_limit (clients per process)",
    },
    Field {
        key: "throttle_secs",
        metric: "dovecot_service_throttle_seconds",
        counter: false,
        help: "Seconds the master waits before creating processes again after failures (0: not throttled)",
    },
    Field {
        key: "exit_failure_last",
        metric: "dovecot_service_last_exit_failure_timestamp_seconds",
        counter: false,
        help: "Unix time a process of the service last exited with a failure (0: never)",
    },
    Field {
        key: "exit_failures_in_sec",
        metric: "dovecot_service_exit_failures_last_second",
        counter: false,
        help: "Processes of the service that failed within the second of the last failure",
    },
    Field {
        key: "last_drop_warning",
        metric: "dovecot_service_last_drop_warning_timestamp_seconds",
        counter: false,
        help: "Unix time the master last warned that process_limit was reached and clients wait (0: never)",
    },
    Field {
        key: "listen_pending",
        metric: "dovecot_service_listen_pending",
        counter: false,
        help: "1 when connections wait in the listen queue because no process can take them",
    },
    Field {
        key: "listening",
        metric: "dovecot_service_listening",
        counter: false,
        help: "1 when the master listens for the service",
    },
    Field {
        key: "doveadm_stop",
        metric: "dovecot_service_stopped",
        counter: false,
        help: "1 when the service was stopped with doveadm service stop",
    },
    Field {
        key: "process_total",
        metric: "dovecot_service_processes_created",
        counter: true,
        help: "Processes the master created for the service since it started",
    },
];

/// Parses `doveadm service status` output; also returns the records it could not read.
pub fn parse_service_status(text: &str) -> Result<(Vec<ServiceStatus>, usize), String> {
    let mut out = Vec::new();
    let mut bad = 0;
    for (_, kv) in records(text, "name")? {
        let Some(name) = kv.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()) else {
            bad += 1;
            continue;
        };
        // A service name is a label value: keep it to what Dovecot allows in one.
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            bad += 1;
            continue;
        }
        let values = FIELDS
            .iter()
            .filter_map(|f| {
                let v = kv.iter().find(|(k, _)| k == f.key)?.1.as_str();
                let n = match v {
                    "y" => 1.0,
                    "n" => 0.0,
                    _ => v.parse::<f64>().ok().filter(|x| x.is_finite())?,
                };
                Some((f, n))
            })
            .collect();
        out.push(ServiceStatus { name, values });
    }
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PAGER: &str = "name: imap
process_count: 3
process_avail: 0
process_limit: 1024
client_limit: 1
throttle_secs: 0
exit_failure_last: 0
exit_failures_in_sec: 0
last_drop_warning: 0
listen_pending: n
listening: y
doveadm_stop: n
process_total: 3
\x0c
name: imap-login
process_count: 1
process_limit: 100
listen_pending: y
process_total: 12
";

    #[test]
    fn pager_and_tab_layouts() {
        let (s, bad) = parse_service_status(PAGER).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(s.len(), 2);
        let get = |i: usize, key: &str| {
            s[i].values
                .iter()
                .find(|(f, _)| f.key == key)
                .map(|(_, v)| *v)
        };
        assert_eq!(get(0, "process_count"), Some(3.0));
        assert_eq!(get(0, "listening"), Some(1.0));
        assert_eq!(get(0, "listen_pending"), Some(0.0));
        assert_eq!(get(1, "listen_pending"), Some(1.0));
        assert_eq!(get(1, "client_limit"), None);
        let tab =
            "name\tprocess_count\tprocess_limit\tlistening\nimap\t3\t1024\ty\nbad name\t1\t1\ty\n";
        let (s, bad) = parse_service_status(tab).unwrap();
        assert_eq!((s.len(), bad), (1, 1));
        assert_eq!(s[0].values.len(), 3);
        assert!(parse_service_status("nonsense\n").is_err());
    }
}
