//! The module file: probe modules by name and the end-to-end delivery routes.
//!
//! Strict YAML: an unknown key anywhere is an error naming the file, the line and the key
//! (a typo such as `tsl:` must not silently probe without TLS). Every default lives in
//! [`defaults`]; checks that span fields run while deserializing (`try_from`), so their
//! errors carry the line too.

pub mod sections;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

pub use sections::{
    Auth, DeliverySection, FtpData, FtpSection, HttpSection, ImapSection, Mechanism, Pop3Section,
    Receive, SmtpSection, TlsConfig, TlsMode,
};

use crate::target::AllowList;

/// Every default of the module file, in one place (docs/probe.md lists them).
pub mod defaults {
    use std::time::Duration;

    /// A module's timeout when it sets none (the scrape timeout usually caps it first).
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// `preferred_ip_protocol`: most clusters are IPv4-only, and blackbox's `ip6` default is
    /// its users' most common trip.
    pub const PREFERRED_IP_PROTOCOL: super::IpProtocol = super::IpProtocol::Ip4;
    /// `ip_protocol_fallback`.
    pub const IP_PROTOCOL_FALLBACK: bool = true;
    /// `tls_required` when `tls: starttls` is asked for: asking means wanting it.
    pub const TLS_REQUIRED: bool = true;
    /// The SMTP probe's envelope sender when a transaction needs one and none is set.
    pub const MAIL_FROM: &str = "";
    /// Delivery: how often the receiving side is polled for the probe message.
    pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
    /// Delivery route: time between two probe messages.
    pub const ROUTE_INTERVAL: Duration = Duration::from_secs(60);
    /// Delivery route: a message not found within this is counted lost (found later: late).
    pub const LOST_AFTER: Duration = Duration::from_secs(300);
    /// HTTP: redirects followed at most.
    pub const MAX_REDIRECTS: u32 = 10;
    /// HTTP: bodies larger than this fail the probe (`too_large`).
    pub const HTTP_BODY_LIMIT: u64 = 10 * 1024 * 1024;
    /// IMAP: the mailbox opened when `mailbox` is not set (only with `select: true`).
    pub const MAILBOX: &str = "INBOX";
}

/// Which protocol a module speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProberKind {
    /// SMTP, submission and SMTPS.
    Smtp,
    /// LMTP (LHLO, one reply per recipient after DATA).
    Lmtp,
    /// IMAP and IMAPS.
    Imap,
    /// POP3 and POP3S.
    Pop3,
    /// FTP and FTPS with a data channel.
    Ftp,
    /// HTTP and HTTPS.
    Http,
    /// Send a message and find it in the mailbox, within one probe.
    Delivery,
}

impl ProberKind {
    /// The name used in the YAML and in logs.
    pub fn name(self) -> &'static str {
        match self {
            ProberKind::Smtp => "smtp",
            ProberKind::Lmtp => "lmtp",
            ProberKind::Imap => "imap",
            ProberKind::Pop3 => "pop3",
            ProberKind::Ftp => "ftp",
            ProberKind::Http => "http",
            ProberKind::Delivery => "delivery",
        }
    }
}

/// IP family preference for name resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpProtocol {
    /// IPv4 first.
    Ip4,
    /// IPv6 first.
    Ip6,
}

/// One probe module.
#[derive(Debug, Clone)]
pub struct Module {
    /// The protocol.
    pub prober: ProberKind,
    /// Upper bound of one probe (the scrape timeout may shorten it).
    pub timeout: Duration,
    /// Which targets `/probe` may reach with this module.
    pub allowed_targets: Option<AllowList>,
    /// Address family tried first.
    pub preferred_ip_protocol: IpProtocol,
    /// Whether the other family is tried when the preferred one has no address.
    pub ip_protocol_fallback: bool,
    /// `smtp:` (and `lmtp:`) settings.
    pub smtp: SmtpSection,
    /// `imap:` settings.
    pub imap: ImapSection,
    /// `pop3:` settings.
    pub pop3: Pop3Section,
    /// `ftp:` settings.
    pub ftp: FtpSection,
    /// `http:` settings.
    pub http: HttpSection,
    /// `delivery:` settings (only for `prober: delivery`).
    pub delivery: Option<DeliverySection>,
    /// The delivery settings with the modules they name looked up.
    pub plan: Option<std::sync::Arc<Plan>>,
}

/// A delivery module's send and receive sides, resolved to modules.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The sending module's name and settings.
    pub send: (String, std::sync::Arc<Module>),
    /// The receiving side.
    pub receive: PlanReceive,
    /// Time between two looks at the mailbox.
    pub poll_interval: Duration,
    /// Keep the message once found.
    pub keep: bool,
}

/// Where a plan looks for the message.
#[derive(Debug, Clone)]
pub enum PlanReceive {
    /// An IMAP module and its target.
    Imap(std::sync::Arc<Module>, crate::target::Target),
    /// A POP3 module and its target.
    Pop3(std::sync::Arc<Module>, crate::target::Target),
    /// A Maildir.
    Maildir(PathBuf),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    prober: ProberKind,
    #[serde(default, deserialize_with = "sections::opt_duration")]
    timeout: Option<Duration>,
    #[serde(default)]
    allowed_targets: Option<AllowList>,
    #[serde(default)]
    preferred_ip_protocol: Option<IpProtocol>,
    #[serde(default)]
    ip_protocol_fallback: Option<bool>,
    #[serde(default)]
    smtp: Option<SmtpSection>,
    #[serde(default)]
    lmtp: Option<SmtpSection>,
    #[serde(default)]
    imap: Option<ImapSection>,
    #[serde(default)]
    pop3: Option<Pop3Section>,
    #[serde(default)]
    ftp: Option<FtpSection>,
    #[serde(default)]
    http: Option<HttpSection>,
    #[serde(default)]
    delivery: Option<DeliverySection>,
}

/// One end-to-end delivery route run in the background.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The `route` label.
    pub name: String,
    /// A `prober: delivery` module.
    pub module: String,
    /// Where the message is handed over (`host:port`).
    pub target: String,
    /// Time between two probe messages.
    #[serde(default = "route_interval", deserialize_with = "sections::duration")]
    pub interval: Duration,
    /// After this a message not yet found is lost; found later it counts as late.
    #[serde(default = "lost_after", deserialize_with = "sections::duration")]
    pub lost_after: Duration,
}

fn route_interval() -> Duration {
    defaults::ROUTE_INTERVAL
}

fn lost_after() -> Duration {
    defaults::LOST_AFTER
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    modules: BTreeMap<String, RawModule>,
    #[serde(default)]
    routes: Vec<Route>,
}

/// A loaded, validated module file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Delivery routes, in file order.
    pub routes: Vec<Route>,
}

impl Config {
    /// Reads and validates the module file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("module file {}: cannot read", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| anyhow!("module file {}: {e:#}", path.display()))
    }

    /// Parses module-file text; relative file names resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Config> {
        reject_duplicate_keys(text)?;
        let raw: RawFile = match serde_norway::from_str::<Option<RawFile>>(text) {
            Ok(r) => r.unwrap_or_default(),
            Err(e) => bail!("{e}"),
        };
        let mut modules = BTreeMap::new();
        for (name, m) in raw.modules {
            let module = build_module(&name, m, base).with_context(|| format!("module {name}"))?;
            modules.insert(name, module);
        }
        let mut plans = Vec::new();
        for (name, m) in &modules {
            if let Some(d) = &m.delivery {
                let plan = check_delivery(&modules, d).with_context(|| format!("module {name}"))?;
                plans.push((name.clone(), plan));
            }
        }
        for (name, plan) in plans {
            if let Some(m) = modules.get_mut(&name) {
                m.plan = Some(std::sync::Arc::new(plan));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in &raw.routes {
            anyhow::ensure!(
                seen.insert(r.name.as_str()),
                "routes: route {:?} is given twice",
                r.name
            );
            let m = modules
                .get(&r.module)
                .ok_or_else(|| anyhow!("route {}: no module {:?}", r.name, r.module))?;
            anyhow::ensure!(
                m.prober == ProberKind::Delivery,
                "route {}: module {} is a {} module, a route needs a delivery module",
                r.name,
                r.module,
                m.prober.name()
            );
            anyhow::ensure!(
                !r.interval.is_zero(),
                "route {}: interval must be above 0",
                r.name
            );
            crate::target::Target::parse(&r.target, 25)
                .map_err(|e| anyhow!("route {}: target: {e}", r.name))?;
        }
        Ok(Config {
            modules,
            routes: raw.routes,
        })
    }
}

fn build_module(name: &str, m: RawModule, base: &Path) -> anyhow::Result<Module> {
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 128,
        "a module name must be 1 to 128 characters"
    );
    let sections = [
        ("smtp", m.smtp.is_some(), ProberKind::Smtp),
        ("lmtp", m.lmtp.is_some(), ProberKind::Lmtp),
        ("imap", m.imap.is_some(), ProberKind::Imap),
        ("pop3", m.pop3.is_some(), ProberKind::Pop3),
        ("ftp", m.ftp.is_some(), ProberKind::Ftp),
        ("http", m.http.is_some(), ProberKind::Http),
        ("delivery", m.delivery.is_some(), ProberKind::Delivery),
    ];
    for (key, given, kind) in sections {
        // A section for another prober is a mistake the operator would not notice.
        if given && kind != m.prober {
            bail!(
                "prober is {} but a {key}: section is given (it would be ignored)",
                m.prober.name()
            );
        }
    }
    if m.prober == ProberKind::Delivery && m.delivery.is_none() {
        bail!("prober delivery needs a delivery: section (send and receive)");
    }
    let mut smtp = m.smtp.or(m.lmtp).unwrap_or_default();
    let mut imap = m.imap.unwrap_or_default();
    let mut pop3 = m.pop3.unwrap_or_default();
    let mut ftp = m.ftp.unwrap_or_default();
    let mut http = m.http.unwrap_or_default();
    for tls in [
        &mut smtp.tls_config,
        &mut imap.tls_config,
        &mut pop3.tls_config,
        &mut ftp.tls_config,
        &mut http.tls_config,
    ] {
        tls.resolve_paths(base);
    }
    for auth in [
        smtp.auth.as_mut(),
        imap.auth.as_mut(),
        pop3.auth.as_mut(),
        ftp.auth.as_mut(),
        http.auth.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        auth.resolve_paths(base);
    }
    smtp.validate(m.prober)?;
    let timeout = m.timeout.unwrap_or(defaults::TIMEOUT);
    anyhow::ensure!(!timeout.is_zero(), "timeout must be above 0");
    Ok(Module {
        prober: m.prober,
        timeout,
        allowed_targets: m.allowed_targets,
        preferred_ip_protocol: m
            .preferred_ip_protocol
            .unwrap_or(defaults::PREFERRED_IP_PROTOCOL),
        ip_protocol_fallback: m
            .ip_protocol_fallback
            .unwrap_or(defaults::IP_PROTOCOL_FALLBACK),
        smtp,
        imap,
        pop3,
        ftp,
        http,
        delivery: m.delivery,
        plan: None,
    })
}

fn check_delivery(modules: &BTreeMap<String, Module>, d: &DeliverySection) -> anyhow::Result<Plan> {
    let send = modules
        .get(&d.send)
        .ok_or_else(|| anyhow!("delivery.send: no module {:?}", d.send))?;
    anyhow::ensure!(
        matches!(send.prober, ProberKind::Smtp | ProberKind::Lmtp),
        "delivery.send: module {} is a {} module, sending needs smtp or lmtp",
        d.send,
        send.prober.name()
    );
    anyhow::ensure!(
        !send.smtp.rcpt_to.is_empty(),
        "delivery.send: module {} has no rcpt_to",
        d.send
    );
    let want = match &d.receive {
        Receive::Imap { module, .. } => Some((module, ProberKind::Imap)),
        Receive::Pop3 { module, .. } => Some((module, ProberKind::Pop3)),
        Receive::Maildir { .. } => None,
    };
    if let Some((name, kind)) = want {
        let m = modules
            .get(name)
            .ok_or_else(|| anyhow!("delivery.receive: no module {name:?}"))?;
        anyhow::ensure!(
            m.prober == kind,
            "delivery.receive: module {name} is a {} module, not {}",
            m.prober.name(),
            kind.name()
        );
        let auth = match kind {
            ProberKind::Imap => m.imap.auth.is_some(),
            _ => m.pop3.auth.is_some(),
        };
        anyhow::ensure!(
            auth,
            "delivery.receive: module {name} has no auth (the mailbox needs a login)"
        );
    }
    let arc = |n: &str| modules.get(n).cloned().map(std::sync::Arc::new);
    let tgt = |t: &str, port| {
        crate::target::Target::parse(t, port).map_err(|e| anyhow!("delivery.receive.target: {e}"))
    };
    let receive = match &d.receive {
        Receive::Imap { module, target } => PlanReceive::Imap(
            arc(module).ok_or_else(|| anyhow!("no module {module}"))?,
            tgt(target, 143)?,
        ),
        Receive::Pop3 { module, target } => PlanReceive::Pop3(
            arc(module).ok_or_else(|| anyhow!("no module {module}"))?,
            tgt(target, 110)?,
        ),
        Receive::Maildir { path } => PlanReceive::Maildir(path.clone()),
    };
    Ok(Plan {
        send: (d.send.clone(), std::sync::Arc::new(send.clone())),
        receive,
        poll_interval: d.poll_interval.max(Duration::from_millis(100)),
        keep: d.keep,
    })
}

/// Deserializing into a map keeps the last of two equal keys; two modules of one name
/// would leave the operator probing with the one they did not mean.
fn reject_duplicate_keys(text: &str) -> anyhow::Result<()> {
    match serde_norway::from_str::<serde_norway::Value>(text) {
        Err(e) if e.to_string().contains("duplicate entry") => bail!("{e}"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
