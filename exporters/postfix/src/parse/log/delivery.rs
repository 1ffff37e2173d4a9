//! Delivery agents: smtp and lmtp (delivery lines plus their connection chatter) and
//! local, virtual, pipe, error, retry and discard (delivery lines only).
use super::tls::parse_tls;
use super::{Event, Severity, is_dsn, split_queue_id};

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
    /// `dsn=X.Y.Z`.
    pub dsn: &'a str,
    /// `status=`.
    pub status: DeliveryStatus,
    /// The text in parentheses after the status (may be empty).
    pub text: &'a str,
}

impl Delivery<'_> {
    /// DSN class label: `"2"`, `"4"` or `"5"`.
    pub fn dsn_class(&self) -> &'static str {
        match self.dsn.as_bytes().first() {
            Some(b'2') => "2",
            Some(b'4') => "4",
            _ => "5",
        }
    }
}

fn parse_delay(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
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
fn delivery<'a>(queue_id: &'a str, rest: &'a str) -> Option<Delivery<'a>> {
    let after_to = rest.strip_prefix("to=<")?;
    let (to, mut tail) = after_to.split_once(">, ")?;
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
    if let Some(after) = tail.strip_prefix("orig_to=<") {
        let (orig, t) = after.split_once(">, ")?;
        d.orig_to = Some(orig);
        tail = t;
    }
    let mut have_relay = false;
    loop {
        let (key, value_and_rest) = tail.split_once('=')?;
        if key == "status" {
            let (status, text) = match value_and_rest.split_once(' ') {
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
        let (value, next) = match value_and_rest.split_once(", ") {
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
    (have_relay && !d.dsn.is_empty()).then_some(d)
}

pub(super) fn parse_smtp<'a>(body: &'a str, severity: Option<Severity>) -> Event<'a> {
    if let Some((qid, rest)) = split_queue_id(body) {
        if rest.starts_with("to=<") {
            return delivery(qid, rest).map_or(Event::Unsupported, Event::Delivery);
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
    const INFO: [&str; 6] = [
        "connect to ",
        "SSL_connect error to ",
        "Host offered STARTTLS",
        "server certificate verification failed",
        "certificate verification failed",
        "setting up TLS connection to ",
    ];
    if severity.is_some() || INFO.iter().any(|p| body.starts_with(p)) {
        return Event::Info;
    }
    Event::Unsupported
}

pub(super) fn parse_delivery_agent(body: &str) -> Event<'_> {
    match split_queue_id(body) {
        Some((qid, rest)) if rest.starts_with("to=<") => {
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
        // broken: no dsn, bad status, bad delays
        assert_eq!(
            ev(
                "smtp",
                "ABC12: to=<a@b>, relay=none, delay=0, status=sent (x)"
            ),
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
