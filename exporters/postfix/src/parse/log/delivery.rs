//! Delivery agents: smtp and lmtp (delivery lines plus their connection chatter) and
//! local, virtual, pipe, error, retry and discard (delivery lines only).
use super::tls::parse_tls;
use super::{Event, is_dsn, split_queue_id_or_field};
use common::text::{rsplit_pat, split_pat, split1};

/// `status=` of a delivery line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// `sent`
    Sent,
    /// `deferred` (repeats on every retry).
    Deferred,
    /// `bounced`
    Bounced,
    /// `SOFTBOUNCE` (`soft_bounce = yes`: would have bounced, stays queued).
    SoftBounce,
    /// `deliverable` (address verification probe).
    Deliverable,
    /// `undeliverable` and `undeliverable-but-not-cached` (address verification probe).
    Undeliverable,
}

impl DeliveryStatus {
    /// Number of statuses, for tables indexed by [`DeliveryStatus::index`].
    pub const COUNT: usize = 6;

    /// A dense index below [`DeliveryStatus::COUNT`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Label value (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Deferred => "deferred",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::SoftBounce => "softbounce",
            DeliveryStatus::Deliverable => "deliverable",
            DeliveryStatus::Undeliverable => "undeliverable",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sent" => DeliveryStatus::Sent,
            "deferred" => DeliveryStatus::Deferred,
            "bounced" => DeliveryStatus::Bounced,
            "SOFTBOUNCE" => DeliveryStatus::SoftBounce,
            "deliverable" => DeliveryStatus::Deliverable,
            "undeliverable" | "undeliverable-but-not-cached" => DeliveryStatus::Undeliverable,
            _ => return None,
        })
    }
}

/// A delivery attempt by smtp/lmtp/local/virtual/pipe/error/discard.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    /// Queue ID.
    pub queue_id: &'a str,
    /// `to=<…>` (without brackets).
    pub to: &'a str,
    /// `orig_to=<…>`, when present.
    pub orig_to: Option<&'a str>,
    /// `relay=` value (`host[ip]:port`, `none`, `local`, a transport name).
    pub relay: &'a str,
    /// `conn_use=`, when a cached connection was reused.
    pub conn_use: Option<u32>,
    /// `delay=` seconds.
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`: before qmgr, in qmgr, connection setup, transmission.
    pub delays: Option<[f64; 4]>,
    /// `dsn=X.Y.Z`; empty on Postfix before 2.3, which wrote no `dsn=`.
    pub dsn: &'a str,
    /// `status=`.
    pub status: DeliveryStatus,
    /// The text in parentheses after the status (may be empty).
    pub text: &'a str,
}

impl Delivery<'_> {
    /// DSN class label: `"2"`, `"4"` or `"5"`. Without a usable `dsn=` (Postfix before
    /// 2.3, or a class outside 2/4/5) the class follows from the status, as Postfix's own
    /// mapping does: sent and deliverable are 2, deferred 4, everything else 5.
    pub fn dsn_class(&self) -> &'static str {
        match self.dsn.as_bytes().first() {
            Some(b'2') => "2",
            Some(b'4') => "4",
            Some(b'5') => "5",
            _ => match self.status {
                DeliveryStatus::Sent | DeliveryStatus::Deliverable => "2",
                DeliveryStatus::Deferred => "4",
                _ => "5",
            },
        }
    }
}

/// An address field's value: `<addr>` as Postfix writes it, or a bare `addr` as some log
/// shippers and old patches leave it. Returns the address and what follows `, `.
fn address_field<'a>(s: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let v = s.strip_prefix(key)?;
    match v.strip_prefix('<') {
        Some(inner) => split_pat(inner, b">, "),
        None => split_pat(v, b", "),
    }
}

fn parse_delay(s: &str) -> Option<f64> {
    if let Some(v) = short_decimal(s) {
        return Some(v);
    }
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// `D[.D…]` with at most 15 digits, as Postfix writes delays (`0.03`, `2017`): the value
/// is `m / 10^k` with both exact in an f64, so one correctly rounded division gives the
/// same value as `str::parse`, for a fraction of its cost (five of these per delivery).
fn short_decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 16 {
        return None;
    }
    let (mut m, mut digits, mut frac): (u64, usize, Option<usize>) = (0, 0, None);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() && i > 0 && i + 1 < b.len() => frac = Some(0),
            _ => return None,
        }
    }
    if digits > 15 {
        return None;
    }
    Some(m as f64 / POW10.get(frac.unwrap_or(0))?)
}

fn parse_delays(s: &str) -> Option<[f64; 4]> {
    let mut it = s.split('/');
    let out = [
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
        parse_delay(it.next()?)?,
    ];
    it.next().is_none().then_some(out)
}

/// `QID: to=<…>, [orig_to=<…>, ]relay=…, [conn_use=N, ]delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=S (TEXT)`.
/// Postfix before 2.3 wrote neither `delays=` nor `dsn=`; both are optional.
fn delivery<'a>(queue_id: &'a str, rest: &'a str) -> Option<Delivery<'a>> {
    let (to, mut tail) = address_field(rest, "to=")?;
    let mut d = Delivery {
        queue_id,
        to,
        orig_to: None,
        relay: "",
        conn_use: None,
        delay: None,
        delays: None,
        dsn: "",
        status: DeliveryStatus::Sent,
        text: "",
    };
    if tail.starts_with("orig_to=") {
        let (orig, t) = address_field(tail, "orig_to=")?;
        d.orig_to = Some(orig);
        tail = t;
    }
    let mut have_relay = false;
    loop {
        let (key, value_and_rest) = split1(tail, b'=')?;
        if key == "status" {
            let (status, text) = match split1(value_and_rest, b' ') {
                Some((s, t)) => (s, t),
                None => (value_and_rest, ""),
            };
            d.status = DeliveryStatus::parse(status)?;
            d.text = text
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(text);
            break;
        }
        let (value, next) = match split_pat(value_and_rest, b", ") {
            Some((v, n)) => (v, Some(n)),
            None => (value_and_rest, None),
        };
        match key {
            "relay" => {
                d.relay = value;
                have_relay = true;
            }
            "conn_use" => d.conn_use = Some(value.parse().ok()?),
            "delay" => d.delay = Some(parse_delay(value)?),
            "delays" => d.delays = Some(parse_delays(value)?),
            "dsn" => {
                if !is_dsn(value) {
                    return None;
                }
                d.dsn = value;
            }
            // Future fields are skipped, not fatal.
            _ => {}
        }
        tail = next?;
    }
    have_relay.then_some(d)
}

/// Why the smtp/lmtp client could not connect (`connect to HOST[ADDR]:PORT: REASON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectError {
    /// `Connection timed out` (Linux) or `Operation timed out` (BSD).
    TimedOut,
    /// `Connection refused`.
    Refused,
    /// `No route to host`.
    NoRouteToHost,
    /// `Network is unreachable`.
    NetworkUnreachable,
    /// `Connection reset by peer`.
    Reset,
    /// Anything else (`No such file or directory` for an LMTP socket, server-specific text).
    Other,
}

impl ConnectError {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectError::TimedOut => "timed_out",
            ConnectError::Refused => "refused",
            ConnectError::NoRouteToHost => "no_route_to_host",
            ConnectError::NetworkUnreachable => "network_unreachable",
            ConnectError::Reset => "reset",
            ConnectError::Other => "other",
        }
    }

    /// Every value, for documentation and tests.
    pub const ALL: [ConnectError; 6] = [
        ConnectError::TimedOut,
        ConnectError::Refused,
        ConnectError::NoRouteToHost,
        ConnectError::NetworkUnreachable,
        ConnectError::Reset,
        ConnectError::Other,
    ];
}

/// `connect to PEER: REASON`; the peer may hold `:` (`[addr]:port`, IPv6, a socket path),
/// so the reason is what follows the last `: `.
fn connect_error(rest: &str) -> Option<ConnectError> {
    let peer_and_reason = rest.strip_prefix("connect to ")?;
    let (_, reason) = rsplit_pat(peer_and_reason, b": ")?;
    Some(match reason {
        "Connection timed out" | "Operation timed out" => ConnectError::TimedOut,
        "Connection refused" => ConnectError::Refused,
        "No route to host" => ConnectError::NoRouteToHost,
        "Network is unreachable" => ConnectError::NetworkUnreachable,
        "Connection reset by peer" => ConnectError::Reset,
        _ => ConnectError::Other,
    })
}

pub(super) fn parse_smtp(body: &str) -> Event<'_> {
    if let Some((qid, rest)) = split_queue_id_or_field(body, "to=") {
        if rest.starts_with("to=") {
            return delivery(qid, rest).map_or(Event::Unsupported, Event::Delivery);
        }
        // `SASL authentication failed; server H[A] said: 535 …` and `SASL authentication
        // failed; cannot authenticate to server H[A]: no mechanism available`.
        if rest.starts_with("SASL authentication failed; ") {
            return Event::SmtpSaslAuthFailed;
        }
        if let Some(reason) = connect_error(rest) {
            return Event::SmtpConnectError(reason);
        }
        const INFO: [&str; 8] = [
            "host ",
            "lost connection with ",
            "conversation with ",
            "enabling PIX workarounds",
            "Cannot start TLS",
            "breaking line",
            "TLS is required",
            "sender delivery status notification",
        ];
        if INFO.iter().any(|p| rest.starts_with(p)) {
            return Event::Info;
        }
        return Event::Unsupported;
    }
    if let Some(tls) = parse_tls(body) {
        return Event::Tls(tls);
    }
    if let Some(reason) = connect_error(body) {
        return Event::SmtpConnectError(reason);
    }
    const INFO: [&str; 5] = [
        "SSL_connect error to ",
        "Host offered STARTTLS",
        "server certificate verification failed",
        "certificate verification failed",
        "setting up TLS connection to ",
    ];
    // A severity line of another shape is counted by severity (see `parse_message`).
    if INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

pub(super) fn parse_delivery_agent(body: &str) -> Event<'_> {
    match split_queue_id_or_field(body, "to=") {
        Some((qid, rest)) if rest.starts_with("to=") => {
            delivery(qid, rest).map_or(Event::Unsupported, Event::Delivery)
        }
        _ => Event::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::log::ev;

    #[test]
    fn short_decimals_equal_str_parse() {
        let mut cases: Vec<String> = [
            "0",
            "0.0",
            "0.01",
            "0.03",
            "1",
            "2017",
            "0.1",
            "0.2",
            "0.3",
            "5.2",
            "0.87",
            "165276",
            "438",
            "1.23",
            "999999999999999",
            "0.0000000000001",
            "12345.6789",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every value with up to 4 integer and 3 fraction digits on a stride.
        for i in (0..10_000_000u64).step_by(7_919) {
            cases.push(format!("{}.{:03}", i / 1000, i % 1000));
            cases.push(format!("{}", i / 1000));
        }
        for c in &cases {
            let want: f64 = c.parse().unwrap();
            assert_eq!(
                short_decimal(c).map(f64::to_bits),
                Some(want.to_bits()),
                "{c}"
            );
        }
        for bad in [
            "",
            ".",
            "1.",
            ".5",
            "1..2",
            "1.2.3",
            "-1",
            "1e3",
            "NaN",
            "inf",
            "0x1",
            "1234567890123456",
        ] {
            assert_eq!(short_decimal(bad), None, "{bad}");
        }
        // Longer inputs take the slow path and still parse.
        assert_eq!(parse_delay("1234567890123456"), Some(1234567890123456.0));
        assert_eq!(parse_delay("-1"), None);
    }

    #[test]
    fn client_connection_errors_and_sasl() {
        let cases = [
            (
                "connect to mx.example.net[192.0.2.25]:25: Connection timed out",
                ConnectError::TimedOut,
            ),
            (
                "connect to mx.example.net[192.0.2.25]:25: Operation timed out",
                ConnectError::TimedOut,
            ),
            (
                "connect to mx.example.net[2001:db8::25]:25: Connection refused",
                ConnectError::Refused,
            ),
            (
                "connect to mx.example.net[192.0.2.25]:25: No route to host",
                ConnectError::NoRouteToHost,
            ),
            (
                "connect to mx.example.net[2001:db8::25]:25: Network is unreachable",
                ConnectError::NetworkUnreachable,
            ),
            (
                "connect to mx.example.net[192.0.2.25]:25: Connection reset by peer",
                ConnectError::Reset,
            ),
            (
                "connect to private/dovecot-lmtp: No such file or directory",
                ConnectError::Other,
            ),
            (
                "4A1B2C3D4E: connect to mx.example.net[192.0.2.25]:25: Connection refused",
                ConnectError::Refused,
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(ev("smtp", msg), Event::SmtpConnectError(want), "{msg}");
        }
        assert_eq!(
            ev(
                "smtp",
                "D0F29603B4: SASL authentication failed; server relay.example.net[198.51.100.4] said: 535 5.7.8 Error: authentication failed: authentication failure"
            ),
            Event::SmtpSaslAuthFailed
        );
        assert_eq!(
            ev(
                "smtp",
                "D0F29603B4: SASL authentication failed; cannot authenticate to server relay.example.net[198.51.100.4]: no mechanism available"
            ),
            Event::SmtpSaslAuthFailed
        );
        // The status text of a deferral says "connect to" too; that is the delivery.
        assert!(matches!(
            ev(
                "smtp",
                "4A1B2C3D4E: to=<a@example.net>, relay=none, delay=30, delays=0.1/0/29.9/0, dsn=4.4.1, status=deferred (connect to mx.example.net[192.0.2.25]:25: Connection timed out)"
            ),
            Event::Delivery(_)
        ));
    }

    #[test]
    fn delivery_lines() {
        let e = ev(
            "smtp",
            "49DB7CE0A7: to=<bob@sink.test>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.03, delays=0/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.queue_id, "49DB7CE0A7");
        assert_eq!(d.to, "bob@sink.test");
        assert_eq!(d.relay, "127.0.0.1[127.0.0.1]:2526");
        assert_eq!(d.delay, Some(0.03));
        assert_eq!(d.delays, Some([0.0, 0.02, 0.0, 0.0]));
        assert_eq!(d.dsn, "2.0.0");
        assert_eq!(d.status, DeliveryStatus::Sent);
        assert_eq!(d.text, "250 2.0.0 Ok");
        assert_eq!(d.dsn_class(), "2");

        let e = ev(
            "local",
            "43E78CE0A6: to=<root@mx.test.local>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(d.orig_to, Some("root"));
        assert_eq!(d.relay, "local");

        let e = ev(
            "error",
            "4jXlKH61vRzKHG4: to=<zed@example.net>, relay=none, delay=438, delays=438/0.04/0/0, dsn=4.3.2, status=deferred (deferred transport)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(
            (d.status, d.dsn_class(), d.delay),
            (DeliveryStatus::Deferred, "4", Some(438.0))
        );

        let e = ev(
            "smtp",
            "ABC12: to=<a@b>, relay=x[1.2.3.4]:25, conn_use=2, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=SOFTBOUNCE (host said: 550 no)",
        );
        let Event::Delivery(d) = e else { panic!() };
        assert_eq!(
            (d.conn_use, d.status),
            (Some(2), DeliveryStatus::SoftBounce)
        );

        let e = ev(
            "smtp",
            "ABC12: to=<a@b>, relay=none, delay=0, delays=0/0/0/0, dsn=2.1.5, status=undeliverable-but-not-cached (x)",
        );
        assert!(matches!(
            e,
            Event::Delivery(Delivery {
                status: DeliveryStatus::Undeliverable,
                ..
            })
        ));
        // Postfix before 2.3: no delays=, no dsn=; the class follows from the status.
        let e = ev(
            "smtp",
            "8F5C21B3D7: to=<ops@example.org>, relay=mx.example.org[203.0.113.9], delay=1, status=sent (250 Ok)",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.dsn, d.delays, d.delay, d.dsn_class()),
            ("", None, Some(1.0), "2")
        );
        let e = ev(
            "smtp",
            "8F5C21B3D7: to=<ops@example.org>, relay=mx.example.org[203.0.113.9]:25, delay=6.1, status=deferred",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.status, d.text, d.dsn_class()),
            (DeliveryStatus::Deferred, "", "4")
        );
        // Bare addresses, an odd queue ID and a DSN class outside 2/4/5.
        let e = ev(
            "local",
            "KLMNO11111: to=ops@example.org, orig_to=root@localhost, relay=local, delay=0.07, delays=0.04/0/0/0.03, dsn=1.2.3, status=bounced (unknown user)",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (d.queue_id, d.to, d.orig_to, d.dsn_class()),
            ("KLMNO11111", "ops@example.org", Some("root@localhost"), "5")
        );
        // A queue ID cut off by the shipper: still a delivery.
        let e = ev(
            "error",
            "to=<ops@example.org>, relay=none, delay=3, delays=3/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended)",
        );
        let Event::Delivery(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!((d.queue_id, d.dsn_class()), ("", "4"));
        // broken: a cut line, bad status, bad delays
        assert_eq!(
            ev("smtp", "3mPVKl0Mhjz7sXv: to=<ops@exa"),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=0, dsn=2.0.0, status=weird (x)"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delays=1/2/x/4, dsn=2.0.0, status=sent"
            ),
            Event::Unsupported
        );
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=NaN, dsn=2.0.0, status=sent"
            ),
            Event::Unsupported
        );
    }
}
