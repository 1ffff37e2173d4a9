//! ProFTPd's process titles, the scoreboard's stand-in where `ftpwho` cannot run (an image
//! without it, a scoreboard not shared): the master sets `proftpd: (accepting
//! connections)`, a session `proftpd: connected: 192.0.2.7 (192.0.2.7:40122)` until it logs
//! in, then `proftpd: alice - 192.0.2.7: IDLE`, or the command it serves
//! (`… : RETR big.bin`). `ProcessTitles terse` leaves only `proftpd`.

/// What one process title says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Title {
    /// The daemon that accepts connections.
    Master,
    /// A session, in this state (`authenticating`, `idle`, `uploading`, `downloading`,
    /// `other`).
    Session(&'static str),
    /// A ProFTPd process whose title does not tell its role (terse titles, or the command
    /// line before the daemon set its title).
    Unknown,
}

/// Reads one title (a command line with its arguments joined by spaces); `None` for a
/// process that is not ProFTPd (`proftpd-exporter` included).
pub fn classify(title: &str) -> Option<Title> {
    let first = title.split_whitespace().next()?;
    let program = first.strip_suffix(':').unwrap_or(first);
    if program.rsplit('/').next() != Some("proftpd") {
        return None;
    }
    let Some(rest) = title.strip_prefix("proftpd: ") else {
        return Some(Title::Unknown);
    };
    if rest.starts_with("(accepting connections)") {
        return Some(Title::Master);
    }
    if rest.starts_with("connected: ") {
        return Some(Title::Session("authenticating"));
    }
    // `USER - HOST: WHAT`; the host holds no spaces, so its `: ` ends it.
    let Some((_, after_user)) = rest.split_once(" - ") else {
        return Some(Title::Session("other"));
    };
    let what = after_user.split_once(": ").map_or("", |(_, w)| w);
    let verb = what.split(' ').next().unwrap_or("");
    let state = match verb {
        "IDLE" => "idle",
        "RETR" => "downloading",
        "STOR" | "STOU" | "APPE" => "uploading",
        _ => "other",
    };
    Some(Title::Session(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_of_a_real_1_3_8() {
        for (title, want) in [
            ("proftpd: (accepting connections)", Some(Title::Master)),
            (
                "proftpd: connected: 127.0.0.1 (127.0.0.1:46282)",
                Some(Title::Session("authenticating")),
            ),
            (
                "proftpd: alice - 127.0.0.1: IDLE",
                Some(Title::Session("idle")),
            ),
            (
                "proftpd: alice - 127.0.0.1: STOR slow.bin",
                Some(Title::Session("uploading")),
            ),
            (
                "proftpd: alice - ftp.example.net: RETR a - b: c.txt",
                Some(Title::Session("downloading")),
            ),
            (
                "proftpd: alice - 127.0.0.1: LIST",
                Some(Title::Session("other")),
            ),
            ("proftpd", Some(Title::Unknown)),
            (
                "/usr/sbin/proftpd -n -q -c /etc/proftpd/proftpd.conf",
                Some(Title::Unknown),
            ),
            ("proftpd-exporter --proftpd.scoreboard=/run/x", None),
            ("/usr/bin/proftpd-exporter", None),
            ("sshd: alice [priv]", None),
            ("", None),
        ] {
            assert_eq!(classify(title), want, "{title}");
        }
    }
}
