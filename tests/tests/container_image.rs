//! The postfix-exporter image as a pod runs it: built offline FROM scratch by
//! scripts/build-image.sh, started by podman (runc, host network) with a read-only root, no
//! capabilities and a non-root user, against a real Postfix: the queue over showq TCP (no
//! shared volume), the queue from the spool mounted read-only (as the postfix user), and the
//! mail log from a shared file, teed unchanged to the container's stdout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may unwrap

use std::collections::BTreeSet;
use std::time::Duration;

use e2e_tests::expo::find;
use e2e_tests::http::get;
use e2e_tests::podman::Podman;
use e2e_tests::{Postfix, PostfixOptions, free_port, wait_for};

const EXPORTER: &str = "postfix-exporter";
const MAX_IMAGE_BYTES: u64 = 15_000_000;
const WAIT: Duration = Duration::from_secs(30);

/// Run options every container gets: what k8s/'s securityContext asks of the pod.
const HARDENED: &[&str] = &[
    "--read-only",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
];

#[test]
fn postfix_exporter_image_runs_hardened_against_real_postfix() {
    let podman = Podman::new().unwrap();
    let image = podman.build_image(EXPORTER).unwrap();
    eprintln!("image {} is {} bytes", image.name, image.size);
    assert!(
        image.size <= MAX_IMAGE_BYTES,
        "{} is {} bytes, over the {MAX_IMAGE_BYTES} target",
        image.name,
        image.size
    );

    // What is in it and how it is labelled.
    let files: BTreeSet<String> = podman.files(&image.name).unwrap().into_iter().collect();
    assert_eq!(
        files,
        BTreeSet::from([
            "etc/ssl/certs/ca-certificates.crt".to_string(),
            "usr/local/bin/exporter".to_string()
        ]),
        "the image holds the binary and the CA bundle, nothing else"
    );
    let info = podman.inspect(&image.name).unwrap();
    let config = &info["Config"];
    assert_eq!(config["User"], "65534:65534");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/exporter"])
    );
    assert!(config["ExposedPorts"].get("9154/tcp").is_some(), "{config}");
    let labels = &config["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], EXPORTER);
    assert_eq!(labels["org.opencontainers.image.version"], "test");
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .unwrap();
    assert!(
        revision.len() == 12 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "revision label {revision:?}"
    );

    // A queue to report: three messages deferred, then one of them held.
    let pf = Postfix::start(PostfixOptions::new().showq_inet()).unwrap();
    let counts = pf.fill_deferred_and_held(WAIT).unwrap();

    // 1. As nobody, over showq TCP, with the mail log from a file and tee'd to stdout.
    let log = pf.log_path().display().to_string();
    let port = free_port();
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let showq = format!("--postfix.showq_address={}", pf.showq_addr().unwrap());
    let log_mount = format!("--volume={log}:/var/log/mail.log:ro");
    let mut run = HARDENED.to_vec();
    run.push(&log_mount);
    let tcp = podman
        .start(
            &run,
            &image.name,
            &[
                &listen,
                "--postfix.showq_network=tcp",
                &showq,
                "--collector.queue.interval=1s",
                "--postfix.logfile_path=/var/log/mail.log",
                "--collector.log.from-beginning",
                "--collector.log.tee=stdout",
            ],
        )
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let metrics = wait_metrics(&url, |body| {
        find(body, "postfix_queue_messages").len() == 5
            && !find(body, "postfix_deliveries_total").is_empty()
    });
    assert_queue_matches(&metrics, &counts);
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(
            get(&format!("{url}{path}"), &[]).unwrap().status,
            200,
            "{path}"
        );
    }
    // Every line the exporter read is on the container's stdout, unchanged; its own log
    // stays on stderr.
    let mut file = Vec::new();
    let mut logs = (Vec::new(), Vec::new());
    wait_for("the mail log on the container's stdout", WAIT, || {
        file = std::fs::read(pf.log_path()).unwrap();
        logs = tcp.logs().unwrap();
        !file.is_empty() && logs.0 == file
    });
    let (_, stderr) = logs;
    let file = String::from_utf8(file).unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        stderr.contains(&format!("message=listening address=127.0.0.1:{port}")),
        "{stderr}"
    );
    let first_line = file.lines().next().unwrap();
    assert!(
        !stderr.contains(first_line),
        "log lines leaked into stderr: {stderr}"
    );
    // PID 1 in a container gets no default signal handling: the exporter's own SIGTERM
    // handler must end it, promptly and with status 0.
    let t0 = std::time::Instant::now();
    assert_eq!(tcp.stop(10).unwrap(), 0);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    drop(tcp);

    // 2. As the postfix user, from the spool mounted read-only.
    let uid = id("-u");
    let gid = id("-g");
    let user = format!("--user={uid}:{gid}");
    let spool = format!(
        "--volume={}:/var/spool/postfix:ro",
        pf.queue_dir().display()
    );
    let mut run = HARDENED.to_vec();
    run.extend([user.as_str(), spool.as_str()]);
    let port = free_port();
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let _spool = podman
        .start(
            &run,
            &image.name,
            &[
                &listen,
                "--collector.queue.source=spool",
                "--postfix.queue_directory=/var/spool/postfix",
                "--collector.queue.interval=1s",
                "--no-collector.log",
            ],
        )
        .unwrap();
    let metrics = wait_metrics(&format!("http://127.0.0.1:{port}"), |body| {
        find(body, "postfix_queue_messages").len() == 5
    });
    assert_queue_matches(&metrics, &counts);
}

/// The postfix user's id (`id -u postfix` / `id -g postfix`).
fn id(flag: &str) -> String {
    let out = std::process::Command::new("id")
        .args([flag, "postfix"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn wait_metrics(url: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut body = String::new();
    wait_for("the container's metrics", WAIT, || {
        match get(&format!("{url}/metrics"), &[]) {
            Ok(r) if r.status == 200 => {
                body = r.text();
                ready(&body)
            }
            _ => false,
        }
    });
    body
}

fn assert_queue_matches(metrics: &str, counts: &std::collections::BTreeMap<String, usize>) {
    let up = find(metrics, "postfix_up");
    assert_eq!(up.len(), 1, "{metrics}");
    assert_eq!(up[0].value, 1.0);
    for s in find(metrics, "postfix_queue_messages") {
        let queue = &s.labels["queue"];
        assert_eq!(s.value, counts[queue] as f64, "queue {queue}");
    }
}
