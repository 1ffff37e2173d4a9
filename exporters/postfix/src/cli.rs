//! The exporter-wide flags of the Postfix exporter and the `print` subcommand. Each
//! collector's own flags (kumina/Hsn723 postfix_exporter's drop-in flags among them) live in
//! the collector's file under `collector/`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use crate::collector::queue::{ListingFormat, aggregate_reader};
use crate::queue::ShapeOptions;

/// All flags of `postfix-exporter` besides its collectors'.
pub type Args = common::cli::Args<Command>;

/// Subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Read showq bytes, `postqueue -j`, `mailq` or `qshape` output, or a mail log
    /// (`--format log`), and print the metrics (text format 0.0.4, for node_exporter's
    /// textfile collector or debugging).
    Print(PrintArgs),
}

/// Input format of `print`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFormat {
    /// Detect: NUL bytes → showq, `{` → postqueue -j, a qshape header → qshape, else mailq.
    Auto,
    /// Raw showq stream.
    Showq,
    /// `postqueue -j` JSON lines.
    Json,
    /// `mailq` / `postqueue -p` text.
    Mailq,
    /// `qshape` text.
    Qshape,
    /// A mail log: every line goes through the log collector's parser (never detected).
    Log,
}

/// Flags of `print`.
#[derive(clap::Args, Debug, Clone)]
pub struct PrintArgs {
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: PrintFormat,
    /// Queue label for qshape input (qshape does not say which queues it read).
    #[arg(long, default_value = "deferred")]
    pub queue: String,
    /// With `--format log`: write every unsupported line to standard error, prefixed
    /// with the daemon it was attributed to.
    #[arg(long)]
    pub unsupported: bool,
    /// Input file; standard input when absent or `-`.
    pub input: Option<PathBuf>,
}

/// Runs `print`: reads the input, prints metrics in text format 0.0.4.
pub fn print(p: &PrintArgs) -> ExitCode {
    common::cli::finish(&crate::INFO, "print", print_to_string(p))
}

/// The text `print` writes for this input.
pub fn print_to_string(p: &PrintArgs) -> anyhow::Result<String> {
    let input = common::cli::read_input(p.input.as_deref())?;
    if p.format == PrintFormat::Log {
        let mut reg = prometheus_client::registry::Registry::default();
        let metrics = crate::logmetrics::LogMetrics::new(Default::default());
        metrics.register(&mut reg);
        // Valid UTF-8 (the common case) is borrowed; lossy decoding is the slow path.
        let text = match std::str::from_utf8(&input) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&input),
        };
        let summary = crate::logmetrics::replay(&metrics, &text, &mut |daemon, line| {
            if p.unsupported {
                eprintln!("unsupported {daemon}: {line}");
            }
        });
        reg.register_collector(Box::new(summary.into_metrics().into_collector()));
        return Ok(render_registry(&reg));
    }
    let set = metrics_for_input(&input, p.format, &p.queue, SystemTime::now())?;
    Ok(render_text(set))
}

/// `set` in text format 0.0.4, as `print` writes it and a scrape would serve it.
pub fn render_text(set: common::MetricSet) -> String {
    let mut reg = prometheus_client::registry::Registry::default();
    reg.register_collector(Box::new(set.into_collector()));
    render_registry(&reg)
}

fn render_registry(reg: &prometheus_client::registry::Registry) -> String {
    common::expose::render_text(reg)
}

/// Metrics for one input held in memory (shared by `print` and tests).
pub fn metrics_for_input(
    input: &[u8],
    format: PrintFormat,
    qshape_queue: &str,
    now: SystemTime,
) -> anyhow::Result<common::MetricSet> {
    let text_head = String::from_utf8_lossy(&input[..input.len().min(512)]).to_string();
    let is_qshape = text_head
        .lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.split_whitespace().next() == Some("T"));
    let format = match format {
        PrintFormat::Auto if is_qshape && !input.contains(&0) => PrintFormat::Qshape,
        f => f,
    };
    let listing = match format {
        PrintFormat::Qshape => {
            let text = String::from_utf8_lossy(input);
            if text.trim().is_empty() {
                // Nothing queued: qshape prints only a header then, but an empty capture
                // is an empty queue too.
                return Ok(common::MetricSet::new());
            }
            return crate::collector::qshape::metrics_from_text(&text, qshape_queue, 20);
        }
        PrintFormat::Log => anyhow::bail!("a mail log is not a queue listing"),
        PrintFormat::Auto => None,
        PrintFormat::Showq => Some(ListingFormat::Showq),
        PrintFormat::Json => Some(ListingFormat::Json),
        PrintFormat::Mailq => Some(ListingFormat::Mailq),
    };
    let walk = aggregate_reader(input, listing, now, &ShapeOptions::default(), 64 * 1024)?;
    Ok(walk.aggregator.into_metrics())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::log::MaillogArgs;
    use crate::collector::queue::{QueueArgs, QueueSource};
    use common::collector::parse_args;
    use common::follow::Source;

    fn parse(args: &[&str]) -> (Args, common::cli::Selection) {
        common::cli::try_parse_args::<Args>(&crate::INFO, crate::COLLECTORS, args).unwrap()
    }

    #[test]
    fn kumina_flags_and_defaults() {
        let (a, on) = parse(&[]);
        assert_eq!(on.enabled, vec!["queue", "log"]);
        assert_eq!(a.common.web.listen_addresses, vec![":9154"]);
        let q = <QueueArgs as clap::FromArgMatches>::from_arg_matches(&on.matches).unwrap();
        match q.config().unwrap().source {
            QueueSource::ShowqUnix(p) => {
                assert_eq!(p, PathBuf::from("/var/spool/postfix/public/showq"))
            }
            other => panic!("{other:?}"),
        }
        let (_, on) = parse(&[
            "--postfix.showq_network=tcp",
            "--postfix.showq_port=10026",
            "--postfix.logfile_path=/var/log/postfix.log",
            "--log.unsupported",
        ]);
        let q = <QueueArgs as clap::FromArgMatches>::from_arg_matches(&on.matches).unwrap();
        match q.config().unwrap().source {
            QueueSource::ShowqTcp(addr) => assert_eq!(addr, "127.0.0.1:10026"),
            other => panic!("{other:?}"),
        }
        let l = <MaillogArgs as clap::FromArgMatches>::from_arg_matches(&on.matches).unwrap();
        assert!(l.log_unsupported);
        assert_eq!(
            l.sources().unwrap(),
            vec![Source::File {
                path: "/var/log/postfix.log".into(),
                from_beginning: false
            }]
        );
    }

    #[test]
    fn collector_flags_are_validated() {
        let q: QueueArgs = parse_args(["--collector.queue.qshape-buckets=0"]).unwrap();
        assert!(q.config().is_err());
        let q: QueueArgs = parse_args([
            "--collector.queue.qshape-queues=deferred,hold",
            "--collector.queue.qshape-linear",
            "--collector.queue.qshape-bucket-minutes=2",
            "--collector.queue.qshape-buckets=5",
        ])
        .unwrap();
        let s = q.shape().unwrap();
        assert_eq!(s.queues, vec!["deferred", "hold"]);
        assert_eq!(s.bucket_labels(), ["2", "4", "6", "8", "8+"]);
        let q: QueueArgs = parse_args(["--collector.queue.interval=0s"]).unwrap();
        let e = q.config().unwrap_err().to_string();
        assert!(e.contains("--collector.queue.interval"), "{e}");
        let (_, on) = parse(&["--collector.qshape", "--no-collector.log"]);
        assert_eq!(on.enabled, vec!["queue", "qshape"]);
        let qs: crate::collector::qshape::QshapeArgs = parse_args::<_, _, &str>([]).unwrap();
        assert!(qs.config().is_err(), "qshape needs a command or file");
        let l: MaillogArgs = parse_args([
            "--collector.log.source=udp://127.0.0.1:5514",
            "--collector.log.source=/var/log/mail.log",
            "--collector.log.from-beginning",
        ])
        .unwrap();
        assert_eq!(
            l.sources().unwrap(),
            vec![
                Source::SyslogUdp("127.0.0.1:5514".parse().unwrap()),
                Source::File {
                    path: "/var/log/mail.log".into(),
                    from_beginning: true
                }
            ]
        );
        let l: MaillogArgs = parse_args(["--collector.log.source=bogus"]).unwrap();
        assert!(l.sources().is_err());
    }

    #[test]
    fn print_takes_empty_input_as_an_empty_queue() {
        let now = SystemTime::now();
        for f in [
            PrintFormat::Auto,
            PrintFormat::Showq,
            PrintFormat::Json,
            PrintFormat::Mailq,
            PrintFormat::Qshape,
        ] {
            let m = metrics_for_input(b"", f, "deferred", now)
                .unwrap_or_else(|e| panic!("{f:?}: {e:#}"));
            if f != PrintFormat::Qshape {
                assert_eq!(
                    m.value("postfix_queue_messages", &[("queue", "deferred")]),
                    Some(0.0),
                    "{f:?}"
                );
            }
        }
    }

    #[test]
    fn a_forced_format_that_does_not_match_is_an_error() {
        let mailq = b"-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n\
                      4A1B2C3D4E*    1234 Mon Nov 23 15:04:52  a@example.com\n\
                      \x20                                        b@example.net\n\n\
                      -- 1 Kbytes in 1 Request.\n";
        let e = format!(
            "{:#}",
            metrics_for_input(mailq, PrintFormat::Json, "deferred", SystemTime::now()).unwrap_err()
        );
        assert!(
            e.contains("not postqueue -j JSON") && e.contains("mailq text"),
            "{e}"
        );
        let json = br#"{"queue_name": "deferred", "queue_id": "4A1B2C3D4E", "arrival_time": 1, "message_size": 1, "sender": "a@example.com", "recipients": []}"#;
        let e = format!(
            "{:#}",
            metrics_for_input(json, PrintFormat::Mailq, "deferred", SystemTime::now()).unwrap_err()
        );
        assert!(
            e.contains("not mailq text") && e.contains("postqueue -j JSON"),
            "{e}"
        );
        assert!(metrics_for_input(json, PrintFormat::Json, "deferred", SystemTime::now()).is_ok());
    }
}
