//! End-to-end delivery: send a message tagged with a unique `X-Mailprobe-Id` through SMTP
//! or LMTP, then find it by IMAP (SEARCH HEADER), POP3 (TOP) or in a Maildir, and delete
//! it. [`probe`] does one round within a `/probe` request; [`crate::routes`] runs rounds
//! in the background, since delivery through a real queue takes longer than a scrape.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Plan, PlanReceive};
use crate::dns::Resolver;
use crate::message::ID_HEADER;
use crate::prober::{imap, pop3, smtp};
use crate::session::{Fail, Reason, Session, Step};
use crate::target::Target;

/// The newest POP3 messages scanned for the probe header (a probe mailbox is small).
const POP3_SCAN: u64 = 50;
/// Bytes of a Maildir file read looking for the header.
const MAILDIR_HEAD: u64 = 64 * 1024;

/// Sends the probe message of `plan` through `s` (already resolved to the SMTP target);
/// returns the message id.
pub async fn send(s: &mut Session, plan: &Plan, route: Option<&str>) -> Step<String> {
    let (_, module) = &plan.send;
    let id = crate::message::probe_id();
    let msg = crate::message::generate(&module.smtp, &id, route);
    let dialect = match module.prober {
        crate::config::ProberKind::Lmtp => smtp::Dialect::Lmtp,
        _ => smtp::Dialect::Smtp,
    };
    s.note(&format!("sending probe message {ID_HEADER}: {id}"));
    smtp::run_with(s, dialect, &module.smtp, Some(&msg)).await?;
    Ok(id)
}

/// One look for the messages `ids` at the receiving side; returns which were found (and
/// deleted unless the plan keeps them). Notes go to `log`.
pub async fn find(
    plan: &Plan,
    ids: &[String],
    resolver: &Resolver,
    log: &mut Vec<String>,
) -> Step<Vec<String>> {
    match &plan.receive {
        PlanReceive::Imap(m, t) => remote(plan, ids, resolver, log, m, t, true).await,
        PlanReceive::Pop3(m, t) => remote(plan, ids, resolver, log, m, t, false).await,
        PlanReceive::Maildir(dir) => {
            let dir = dir.clone();
            let ids = ids.to_vec();
            let keep = plan.keep;
            tokio::task::spawn_blocking(move || maildir_find(&dir, &ids, keep))
                .await
                .map_err(|e| Fail::new(Reason::Config, format!("maildir scan: {e}")))?
        }
    }
}

async fn remote(
    plan: &Plan,
    ids: &[String],
    resolver: &Resolver,
    log: &mut Vec<String>,
    module: &Arc<crate::config::Module>,
    target: &Target,
    is_imap: bool,
) -> Step<Vec<String>> {
    let mut s = Session::new("receive", Arc::clone(module), target.clone());
    s.phase("resolve");
    s.addrs = resolver
        .addresses(
            &target.host,
            module.preferred_ip_protocol,
            module.ip_protocol_fallback,
        )
        .await
        .map_err(|e| Fail::new(Reason::Dns, e.to_string()))?;
    let r = if is_imap {
        imap_find(&mut s, plan, ids).await
    } else {
        pop3_find(&mut s, plan, ids).await
    };
    if let Err(f) = &r {
        s.record_failure(f.clone());
    }
    log.extend(s.transcript().iter().map(|l| format!("  receive {l}")));
    r
}

async fn imap_find(s: &mut Session, plan: &Plan, ids: &[String]) -> Step<Vec<String>> {
    let module = Arc::clone(&s.module);
    let cfg = &module.imap;
    let mut session = imap::login(s, cfg).await?;
    s.phase("select");
    let mailbox = cfg
        .mailbox
        .as_deref()
        .unwrap_or(crate::config::defaults::MAILBOX);
    session
        .ok(
            s,
            &format!("SELECT {}", crate::reply::imap::quote(mailbox)),
            Reason::UnexpectedReply,
        )
        .await?;
    s.phase("search");
    let mut found = Vec::new();
    for id in ids {
        let d = session
            .ok(
                s,
                &format!(
                    "SEARCH HEADER {ID_HEADER} {}",
                    crate::reply::imap::quote(id)
                ),
                Reason::UnexpectedReply,
            )
            .await?;
        let nums: Vec<u64> = d
            .untagged
            .iter()
            .filter_map(|u| crate::reply::imap::search(u))
            .flatten()
            .collect();
        if nums.is_empty() {
            continue;
        }
        found.push(id.clone());
        if !plan.keep {
            let set = nums
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            session
                .ok(
                    s,
                    &format!("STORE {set} +FLAGS.SILENT (\\Deleted)"),
                    Reason::UnexpectedReply,
                )
                .await?;
        }
    }
    if !found.is_empty() && !plan.keep {
        session.ok(s, "EXPUNGE", Reason::UnexpectedReply).await?;
    }
    imap::logout(s, &mut session).await?;
    Ok(found)
}

async fn pop3_find(s: &mut Session, plan: &Plan, ids: &[String]) -> Step<Vec<String>> {
    let module = Arc::clone(&s.module);
    pop3::login(s, &module.pop3).await?;
    let (n, _) = pop3::stat(s).await?;
    s.phase("search");
    let mut found = Vec::new();
    let first = n.saturating_sub(POP3_SCAN - 1).max(1);
    for i in (first..=n).rev() {
        pop3::command(s, &format!("TOP {i} 0"), Reason::UnexpectedReply).await?;
        let (lines, _) = pop3::multiline(s, true).await?;
        let Some(id) = lines.iter().find_map(|l| header_id(l)) else {
            continue;
        };
        if let Some(id) = ids.iter().find(|want| **want == id) {
            found.push(id.clone());
            if !plan.keep {
                pop3::command(s, &format!("DELE {i}"), Reason::UnexpectedReply).await?;
            }
        }
    }
    // QUIT commits the deletions (RFC 1939 UPDATE state).
    pop3::quit(s).await?;
    Ok(found)
}

/// The id of an `X-Mailprobe-Id:` header line.
fn header_id(line: &str) -> Option<String> {
    let (name, value) = line.split_once(':')?;
    name.trim()
        .eq_ignore_ascii_case(ID_HEADER)
        .then(|| value.trim().to_string())
}

fn maildir_find(dir: &std::path::Path, ids: &[String], keep: bool) -> Step<Vec<String>> {
    use std::io::Read;
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Delivery agents make a Maildir with its first message: none yet is no mail,
            // not a broken mailbox (a wrong path shows as lost messages).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Fail::new(
                    Reason::Config,
                    format!("maildir {}: {}", d.display(), e.kind()),
                ));
            }
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let Ok(f) = std::fs::File::open(&path) else {
                continue;
            };
            let mut head = Vec::new();
            if f.take(MAILDIR_HEAD).read_to_end(&mut head).is_err() {
                continue;
            }
            let text = String::from_utf8_lossy(&head);
            // Headers end at the first empty line.
            let header = text.split("\n\n").next().unwrap_or("");
            let header = header.split("\r\n\r\n").next().unwrap_or("");
            let Some(id) = header.lines().find_map(header_id) else {
                continue;
            };
            if let Some(want) = ids.iter().find(|w| **w == id) {
                found.push(want.clone());
                if !keep && let Err(err) = std::fs::remove_file(&path) {
                    tracing::warn!(file = %path.display(), error = %err, "cannot delete the probe message");
                }
            }
        }
    }
    Ok(found)
}

/// The `delivery` prober: one message sent and looked for until the probe's deadline.
pub async fn probe(s: &mut Session) -> Step {
    let plan = s
        .module
        .plan
        .clone()
        .ok_or_else(|| Fail::new(Reason::Config, "the module has no delivery plan"))?;
    let resolver = s
        .resolver
        .clone()
        .ok_or_else(|| Fail::new(Reason::Config, "no resolver"))?;
    let deadline = s
        .deadline
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(10));
    let id = send(s, &plan, None).await?;
    let sent = Instant::now();
    s.phase("deliver");
    loop {
        let mut log = Vec::new();
        let found = find(&plan, std::slice::from_ref(&id), &resolver, &mut log).await;
        for l in &log {
            s.note(l);
        }
        match found {
            Ok(f) if !f.is_empty() => {
                let latency = sent.elapsed();
                s.gauge(
                    "probe_delivery_latency_seconds",
                    "Time from the end of DATA until the message was found, in seconds",
                    latency.as_secs_f64(),
                );
                s.end_phase();
                return Ok(());
            }
            Ok(_) => {}
            // A failing mailbox side is its own failure, not a slow delivery.
            Err(f) => return Err(f),
        }
        // Stop while a last look would still fit: a look cut by the deadline would read as
        // a timeout of the mailbox, not as a message that did not arrive.
        let reserve = plan.poll_interval * 2 + Duration::from_millis(500);
        if Instant::now() + reserve >= deadline {
            return Err(Fail::new(
                Reason::NotDelivered,
                format!(
                    "message {id} not found within {:.1} s",
                    sent.elapsed().as_secs_f64()
                ),
            ));
        }
        tokio::time::sleep(plan.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_scan_finds_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let msg = |id: &str| {
            format!("From: a\r\nX-Mailprobe-Id: {id}\r\n\r\nbody X-Mailprobe-Id: fake\r\n")
        };
        std::fs::write(dir.path().join("new/1.host"), msg("aaa")).unwrap();
        std::fs::write(dir.path().join("cur/2.host:2,S"), msg("bbb")).unwrap();
        std::fs::write(
            dir.path().join("new/3.host"),
            "From: x\n\nX-Mailprobe-Id: ccc\n",
        )
        .unwrap();
        let ids = vec!["bbb".to_string(), "ccc".to_string(), "zzz".to_string()];
        let found = maildir_find(dir.path(), &ids, false).unwrap();
        // ccc is only in a body: not a header.
        assert_eq!(found, vec!["bbb".to_string()]);
        assert!(!dir.path().join("cur/2.host:2,S").exists());
        assert!(dir.path().join("new/1.host").exists());
        assert_eq!(header_id("x-mailprobe-id:  q1 "), Some("q1".into()));
        // Not made yet (no delivery so far): nothing found, no error.
        assert_eq!(
            maildir_find(&dir.path().join("missing"), &ids, false).ok(),
            Some(vec![])
        );
        // A Maildir that cannot be read is an error.
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        assert!(maildir_find(&file, &ids, false).is_err());
    }
}
