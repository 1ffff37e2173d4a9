//! The Kubernetes manifests in k8s/, checked offline the way a cluster would see them: every
//! kustomization rendered (tests/python/kustomize_render.py), the built-in objects validated
//! strictly against the Kubernetes 1.29 and 1.37 schemas, the operators' objects against
//! their CRDs' strict schemas (when kept beside the project), the exporters' arguments
//! against the real binaries, selectors against the pods and Services they must find, the
//! generated VMRules and dashboard ConfigMaps against alerts/ and dashboards/, the plain
//! scrape config through `vmagent -dryRun`, and every YAML file through yamllint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{exporter_binary, workspace_root};
use serde_json::Value;

/// One rendered kustomization: the objects in order, each with the file it was written to.
struct Rendered {
    dir: String,
    _tmp: tempfile::TempDir,
    objects: Vec<(PathBuf, Value)>,
}

fn render(dir: &str) -> Rendered {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/kustomize_render.py"))
        .arg(root.join(dir))
        .arg(tmp.path())
        .output()
        .expect("the venv's python; run scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "rendering {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|name| {
            let path = tmp.path().join(name);
            let v: Value = e2e_tests::read_yaml(&path).unwrap();
            (path, v)
        })
        .collect();
    Rendered {
        dir: dir.to_string(),
        _tmp: tmp,
        objects,
    }
}

/// k8s/base and every directory of k8s/examples.
fn kustomizations() -> Vec<String> {
    let root = workspace_root();
    let mut dirs = vec!["k8s/base".to_string()];
    let mut examples: Vec<String> = std::fs::read_dir(root.join("k8s/examples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("kustomization.yaml").is_file())
        .map(|e| format!("k8s/examples/{}", e.file_name().to_string_lossy()))
        .collect();
    examples.sort();
    dirs.extend(examples);
    assert!(dirs.len() >= 7, "{dirs:?}");
    dirs
}

fn all_rendered() -> Vec<Rendered> {
    kustomizations().iter().map(|d| render(d)).collect()
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().unwrap_or_default()
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or_default()
}

fn is_builtin(v: &Value) -> bool {
    let api = v["apiVersion"].as_str().unwrap_or_default();
    match api.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// The pod templates of the workloads: (workload, template).
fn pod_templates(objects: &[(PathBuf, Value)]) -> Vec<(String, &Value)> {
    objects
        .iter()
        .filter(|(_, v)| matches!(kind(v), "Deployment" | "StatefulSet" | "DaemonSet"))
        .map(|(_, v)| (format!("{}/{}", kind(v), name(v)), &v["spec"]["template"]))
        .collect()
}

/// The exporter containers of a pod template (image `mail-exporters/...`) and whether each
/// is an init container.
fn exporter_containers(template: &Value) -> Vec<(&Value, bool)> {
    let spec = &template["spec"];
    let mut out = Vec::new();
    for (key, init) in [("containers", false), ("initContainers", true)] {
        for c in spec[key].as_array().into_iter().flatten() {
            if c["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("mail-exporters/"))
            {
                out.push((c, init));
            }
        }
    }
    out
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let Some(want) = selector["matchLabels"].as_object() else {
        return false;
    };
    !want.is_empty() && want.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (run scripts/install-deps.sh)"));
    let text = e2e_tests::tools::both(&out);
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn built_in_objects_validate_strictly_against_kubernetes_1_29_and_1_37() {
    let root = workspace_root();
    for r in all_rendered() {
        let files: Vec<&PathBuf> = r
            .objects
            .iter()
            .filter(|(_, v)| is_builtin(v))
            .map(|(p, _)| p)
            .collect();
        assert!(!files.is_empty(), "{}", r.dir);
        for version in ["1.29.0", "1.37.0"] {
            let out = run_ok(
                Command::new(root.join(".venv/bin/kubernetes-validate"))
                    .args(["--strict", "--quiet", "-k", version])
                    .args(&files),
                &format!("kubernetes-validate -k {version} on {}", r.dir),
            );
            assert!(!out.contains("ERROR"), "{}: {out}", r.dir);
        }
    }
}

/// The check must be able to fail: a misspelt probe field is an error.
#[test]
fn kubernetes_validate_rejects_a_misspelt_field() {
    let root = workspace_root();
    let r = render("k8s/base");
    let (path, _) = r
        .objects
        .iter()
        .find(|(_, v)| kind(v) == "StatefulSet")
        .unwrap();
    let text =
        std::fs::read_to_string(path)
            .unwrap()
            .replacen("periodSeconds:", "periodSecond:", 1);
    std::fs::write(path, text).unwrap();
    let out = Command::new(root.join(".venv/bin/kubernetes-validate"))
        .args(["--strict", "-k", "1.29.0"])
        .arg(path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("'periodSecond' was unexpected"));
}

#[test]
fn operator_objects_match_the_strict_crd_schemas() {
    let root = workspace_root();
    let mut checked = 0;
    for r in all_rendered() {
        let mut by_schema: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for (path, v) in &r.objects {
            let api = v["apiVersion"].as_str().unwrap_or_default();
            let dir = if api.starts_with("operator.victoriametrics.com/") {
                "vm-operator"
            } else if api.starts_with("grafana.integreatly.org/") {
                "grafana-operator"
            } else {
                continue;
            };
            by_schema
                .entry(format!("{dir}/{}.strict.json", kind(v).to_lowercase()))
                .or_default()
                .push(path.clone());
        }
        // The renders go away with `r`: validate this kustomization's objects now.
        for (rel, files) in by_schema {
            let Some(schema) =
                e2e_tests::corpus::schema(&rel, "operator_objects_match_the_strict_crd_schemas")
            else {
                return;
            };
            let out = run_ok(
                Command::new(root.join(".venv/bin/check-jsonschema"))
                    .arg("--schemafile")
                    .arg(&schema)
                    .args(&files),
                &format!("check-jsonschema {rel} on {}", r.dir),
            );
            assert!(out.contains("ok -- validation done"), "{out}");
            checked += files.len();
        }
    }
    // Scrape objects, probes, rules, the cluster and the grafana-operator objects.
    assert!(checked >= 60, "{checked} objects checked");
}

#[test]
fn exporters_are_hardened_probed_and_tee_their_logs() {
    for r in all_rendered() {
        for (workload, t) in pod_templates(&r.objects) {
            let pod = &t["spec"];
            for (c, init) in exporter_containers(t) {
                let at = format!("{}: {workload} container {}", r.dir, c["name"]);
                let sc = &c["securityContext"];
                assert_eq!(
                    sc["runAsNonRoot"]
                        .as_bool()
                        .or(pod["securityContext"]["runAsNonRoot"].as_bool()),
                    Some(true),
                    "{at}"
                );
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
                assert_eq!(
                    sc["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{at}"
                );
                let seccomp = sc["seccompProfile"]["type"]
                    .as_str()
                    .or(pod["securityContext"]["seccompProfile"]["type"].as_str());
                assert_eq!(seccomp, Some("RuntimeDefault"), "{at}");
                let user = sc["runAsUser"]
                    .as_u64()
                    .or(pod["securityContext"]["runAsUser"].as_u64());
                assert!(
                    user.is_some_and(|u| u > 0),
                    "{at}: numeric non-root runAsUser"
                );
                for (probe, path) in [
                    ("startupProbe", "/-/healthy"),
                    ("livenessProbe", "/-/healthy"),
                    ("readinessProbe", "/-/ready"),
                ] {
                    assert_eq!(c[probe]["httpGet"]["path"], path, "{at} {probe}");
                    assert_eq!(c[probe]["httpGet"]["port"], "metrics", "{at} {probe}");
                }
                let ports = c["ports"].as_array().unwrap();
                assert!(
                    ports.iter().any(|p| p["name"] == "metrics"),
                    "{at}: a port named metrics"
                );
                for k in ["cpu", "memory"] {
                    assert!(
                        c["resources"]["requests"][k].is_string(),
                        "{at} requests.{k}"
                    );
                }
                assert!(c["resources"]["limits"]["memory"].is_string(), "{at}");
                let args: Vec<&str> = c["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let image = c["image"].as_str().unwrap();
                if !image.contains("mailprobe-exporter") {
                    assert!(
                        args.contains(&"--collector.log.tee=stdout"),
                        "{at}: log sources teed to stdout"
                    );
                }
                if r.dir.ends_with("native-sidecar") && !image.contains("mailprobe-exporter") {
                    assert!(init, "{at}: a native sidecar is an init container");
                }
                if init {
                    assert_eq!(c["restartPolicy"], "Always", "{at}");
                }
            }
            // Dovecot and ProFTPd create their log files readable by root only: an init
            // container must have created each file the exporter follows on a shared volume
            // (Postfix's postlogd makes its file 0644).
            for (c, _) in exporter_containers(t) {
                for a in c["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                {
                    let Some((flag, path)) = a.split_once('=') else {
                        continue;
                    };
                    let reads_log = matches!(
                        flag,
                        "--collector.log.source" | "--proftpd.transferlog" | "--proftpd.systemlog"
                    );
                    if !reads_log || !path.starts_with('/') {
                        continue;
                    }
                    let created = pod["initContainers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|i| {
                            i["restartPolicy"].is_null()
                                && i["command"].to_string().contains(path)
                                && i["command"].to_string().contains("chmod 0644")
                        });
                    assert!(
                        created,
                        "{}: {workload}: nothing creates {path} readable",
                        r.dir
                    );
                }
            }
            // The exporter must be the pod's second container in the base: the native-sidecar
            // patch moves /containers/1.
            if r.dir == "k8s/base" && !workload.contains("mailprobe") {
                assert!(
                    pod["containers"][1]["image"]
                        .as_str()
                        .is_some_and(|i| i.starts_with("mail-exporters/")),
                    "{workload}"
                );
            }
        }
    }
}

/// The manifests' exporter arguments are flags the binaries know, with values they accept
/// (clap checks every argument before `--version` ends the run), and the probe module file is
/// one the probe exporter loads.
#[test]
fn exporter_arguments_and_probe_modules_are_accepted_by_the_binaries() {
    let mut checked = BTreeSet::new();
    for r in all_rendered() {
        for (workload, t) in pod_templates(&r.objects) {
            for (c, _) in exporter_containers(t) {
                let image = c["image"].as_str().unwrap();
                let bin = image
                    .trim_start_matches("mail-exporters/")
                    .split(':')
                    .next()
                    .unwrap();
                let args: Vec<String> = c["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().replace("$(NODE_IP)", "127.0.0.1"))
                    .collect();
                run_ok(
                    Command::new(exporter_binary(bin).unwrap())
                        .args(&args)
                        .arg("--version"),
                    &format!("{}: {workload}: {bin} {args:?}", r.dir),
                );
                checked.insert(bin.to_string());
            }
        }
        for (_, v) in &r.objects {
            if kind(v) == "ConfigMap" && name(v) == "mailprobe-modules" {
                let tmp = tempfile::tempdir().unwrap();
                let file = tmp.path().join("mailprobe.yml");
                std::fs::write(&file, v["data"]["mailprobe.yml"].as_str().unwrap()).unwrap();
                let out = run_ok(
                    Command::new(exporter_binary("mailprobe-exporter").unwrap())
                        .arg(format!("--config.file={}", file.display()))
                        .arg("--config.check"),
                    "mailprobe-exporter --config.check",
                );
                assert!(out.contains("7 modules, 1 routes: OK"), "{out}");
            }
        }
    }
    assert_eq!(
        checked,
        BTreeSet::from(
            [
                "postfix-exporter",
                "dovecot-exporter",
                "proftpd-exporter",
                "mailprobe-exporter"
            ]
            .map(String::from)
        )
    );
}

/// A selector that matches nothing fails silently in a cluster (no targets, no rules, no
/// dashboard): every one here must find its objects in the same kustomization.
#[test]
fn selectors_and_references_find_their_objects() {
    for r in all_rendered() {
        let templates = pod_templates(&r.objects);
        let of_kind = |k: &str| -> Vec<&Value> {
            r.objects
                .iter()
                .map(|(_, v)| v)
                .filter(|v| kind(v) == k)
                .collect()
        };
        for (_, v) in r
            .objects
            .iter()
            .filter(|(_, v)| matches!(kind(v), "Deployment" | "StatefulSet" | "DaemonSet"))
        {
            assert!(
                labels_match(
                    &v["spec"]["selector"],
                    &v["spec"]["template"]["metadata"]["labels"]
                ),
                "{}: {} selects its own pods",
                r.dir,
                name(v)
            );
        }
        for ps in of_kind("VMPodScrape") {
            let port = ps["spec"]["podMetricsEndpoints"][0]["port"]
                .as_str()
                .unwrap();
            let found = templates.iter().any(|(_, t)| {
                labels_match(&ps["spec"]["selector"], &t["metadata"]["labels"])
                    && exporter_containers(t).iter().any(|(c, _)| {
                        c["ports"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == port)
                    })
            });
            assert!(
                found,
                "{}: VMPodScrape {} finds no pod with port {port}",
                r.dir,
                name(ps)
            );
        }
        for svc in of_kind("Service") {
            assert!(
                templates.iter().any(|(_, t)| labels_match(
                    &serde_json::json!({"matchLabels": svc["spec"]["selector"]}),
                    &t["metadata"]["labels"]
                )),
                "{}: Service {} selects no pod",
                r.dir,
                name(svc)
            );
        }
        for ss in of_kind("VMServiceScrape") {
            let port = &ss["spec"]["endpoints"][0]["port"];
            assert!(
                of_kind("Service").iter().any(|s| labels_match(
                    &ss["spec"]["selector"],
                    &s["metadata"]["labels"]
                ) && s["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| &p["name"] == port)),
                "{}: VMServiceScrape {} finds no Service",
                r.dir,
                name(ss)
            );
        }
        // Probes: the module exists and may reach the target.
        let modules: Option<serde_norway::Value> = of_kind("ConfigMap")
            .iter()
            .find(|c| name(c) == "mailprobe-modules")
            .map(|c| serde_norway::from_str(c["data"]["mailprobe.yml"].as_str().unwrap()).unwrap());
        for p in of_kind("VMProbe") {
            let modules = modules
                .as_ref()
                .expect("VMProbe without the probe exporter");
            let module = p["spec"]["module"].as_str().unwrap();
            let m = &modules["modules"][module];
            assert!(
                m.is_mapping(),
                "{}: VMProbe {} module {module} undefined",
                r.dir,
                name(p)
            );
            let allowed: Vec<&str> = m["allowed_targets"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            for t in p["spec"]["targets"]["staticConfig"]["targets"]
                .as_array()
                .unwrap()
            {
                assert!(
                    allowed.contains(&t.as_str().unwrap()),
                    "{}: {t} not allowed for {module}",
                    r.dir
                );
            }
            let svc = p["spec"]["vmProberSpec"]["url"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap();
            assert!(
                of_kind("Service").iter().any(|s| name(s) == svc),
                "{}: no Service {svc}",
                r.dir
            );
        }
        // Mounted ConfigMaps and Secrets exist (but the user's own Dovecot configuration).
        for (workload, t) in &templates {
            for vol in t["spec"]["volumes"].as_array().into_iter().flatten() {
                let (k, n) = if let Some(n) = vol["configMap"]["name"].as_str() {
                    ("ConfigMap", n)
                } else if let Some(n) = vol["secret"]["secretName"].as_str() {
                    ("Secret", n)
                } else {
                    continue;
                };
                if n == "dovecot-config" {
                    continue;
                }
                assert!(
                    of_kind(k).iter().any(|o| name(o) == n),
                    "{}: {workload} mounts missing {k} {n}",
                    r.dir
                );
            }
        }
        for g in of_kind("GrafanaDashboard") {
            let cm = &g["spec"]["configMapRef"];
            let target = of_kind("ConfigMap")
                .into_iter()
                .find(|c| c["metadata"]["name"] == cm["name"])
                .unwrap_or_else(|| panic!("{}: {} refers to a missing ConfigMap", r.dir, name(g)));
            assert!(target["data"][cm["key"].as_str().unwrap()].is_string());
        }
        // The operator objects of the cluster example select the base's objects.
        for a in of_kind("VMAgent").into_iter().chain(of_kind("VMAlert")) {
            for key in [
                "podScrapeSelector",
                "serviceScrapeSelector",
                "probeSelector",
                "ruleSelector",
            ] {
                let sel = &a["spec"][key];
                if sel.is_null() {
                    continue;
                }
                let want = match key {
                    "podScrapeSelector" => "VMPodScrape",
                    "serviceScrapeSelector" => "VMServiceScrape",
                    "probeSelector" => "VMProbe",
                    _ => "VMRule",
                };
                let n = of_kind(want)
                    .iter()
                    .filter(|o| labels_match(sel, &o["metadata"]["labels"]))
                    .count();
                assert_eq!(
                    n,
                    of_kind(want).len(),
                    "{}: {} {key} misses some {want}",
                    r.dir,
                    name(a)
                );
                assert!(n > 0, "{}: {key}", r.dir);
            }
        }
    }
}

fn yaml_file(path: &Path) -> serde_norway::Value {
    e2e_tests::read_yaml(path).unwrap()
}

/// The files of `dir` ending in `.ext`, with their stems.
fn files_with_extension(dir: &Path, ext: &str) -> Vec<(PathBuf, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (p, stem)
        })
        .collect()
}

/// Each VMRule holds exactly the groups of its alerts/*.yml (which promtool and vmalert test
/// elsewhere), and vmalert accepts the rules taken back out of it.
#[test]
fn vmrules_are_the_alert_files_and_vmalert_accepts_them() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    for (path, stem) in files_with_extension(&root.join("alerts"), "yml") {
        let rule = yaml_file(&root.join(format!("k8s/base/rules/{stem}.yaml")));
        assert_eq!(rule["kind"].as_str(), Some("VMRule"));
        assert_eq!(rule["spec"]["groups"], yaml_file(&path)["groups"], "{stem}");
        let mut spec = serde_norway::Mapping::new();
        spec.insert("groups".into(), rule["spec"]["groups"].clone());
        let out = tmp.path().join(format!("{stem}.yml"));
        std::fs::write(&out, serde_norway::to_string(&spec).unwrap()).unwrap();
        run_ok(
            Command::new("vmalert")
                .arg(format!("-rule={}", out.display()))
                .arg("-dryRun"),
            &format!("vmalert -dryRun on the rules of k8s/base/rules/{stem}.yaml"),
        );
        n += 1;
    }
    assert_eq!(n, 5);
}

/// The dashboard ConfigMaps carry the dashboards unchanged, with the sidecar's label, and fit
/// in `kubectl apply`'s last-applied annotation (256 KiB).
#[test]
fn dashboard_configmaps_hold_the_dashboards() {
    let root = workspace_root();
    let mut n = 0;
    for (path, stem) in files_with_extension(&root.join("dashboards"), "json") {
        let cm = yaml_file(&root.join(format!("k8s/base/dashboards/{stem}.yaml")));
        assert_eq!(
            cm["metadata"]["labels"]["grafana_dashboard"].as_str(),
            Some("1")
        );
        let held = cm["data"][format!("{stem}.json").as_str()]
            .as_str()
            .unwrap();
        assert!(held.len() < 256 * 1024, "{stem}: {} bytes", held.len());
        let held: Value = serde_json::from_str(held).unwrap();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(held, file, "{stem}");
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn plain_scrape_config_passes_vmagent_dry_run() {
    let r = render("k8s/examples/plain-vmagent");
    let (_, cm) = r
        .objects
        .iter()
        .find(|(_, v)| kind(v) == "ConfigMap" && name(v) == "vmagent-scrape-config")
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("scrape.yml");
    std::fs::write(&file, cm["data"]["scrape.yml"].as_str().unwrap()).unwrap();
    let out = run_ok(
        Command::new("vmagent")
            .arg(format!("-promscrape.config={}", file.display()))
            .arg("-dryRun"),
        "vmagent -dryRun",
    );
    assert!(out.contains("all the configs are ok"), "{out}");
    // And the dry run can fail: an unknown field is refused.
    std::fs::write(
        &file,
        "scrape_configs:\n  - job_name: x\n    scrape_intervall: 1s\n",
    )
    .unwrap();
    let bad = Command::new("vmagent")
        .arg(format!("-promscrape.config={}", file.display()))
        .arg("-dryRun")
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn yamllint_accepts_every_k8s_file() {
    let root = workspace_root();
    run_ok(
        Command::new(root.join(".venv/bin/yamllint"))
            .arg("--strict")
            .arg("-c")
            .arg("tests/python/yamllint-k8s.yaml")
            .arg("k8s")
            // The configuration's ignore patterns are relative paths.
            .current_dir(&root),
        "yamllint k8s/",
    );
}

/// No manifest is left out of the kustomizations (a file nobody applies is a file nobody
/// tests), and the renderer refuses kustomize features it does not implement.
#[test]
fn every_manifest_is_in_a_kustomization_and_the_renderer_is_strict() {
    let root = workspace_root();
    let mut referenced = BTreeSet::new();
    let mut files = BTreeSet::new();
    let mut stack = vec![root.join("k8s")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if !p.ends_with("image") {
                    stack.push(p);
                }
                continue;
            }
            let is_yaml = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
            if !is_yaml {
                continue;
            }
            if p.file_name().unwrap() == "kustomization.yaml" {
                let k = yaml_file(&p);
                let base = p.parent().unwrap();
                for r in k["resources"].as_sequence().into_iter().flatten() {
                    referenced.insert(base.join(r.as_str().unwrap()));
                }
                for patch in k["patches"].as_sequence().into_iter().flatten() {
                    if let Some(f) = patch["path"].as_str() {
                        referenced.insert(base.join(f));
                    }
                }
                for g in k["configMapGenerator"].as_sequence().into_iter().flatten() {
                    for f in g["files"].as_sequence().into_iter().flatten() {
                        referenced.insert(base.join(f.as_str().unwrap()));
                    }
                }
            } else {
                files.insert(p);
            }
        }
    }
    let orphans: Vec<_> = files.difference(&referenced).collect();
    assert!(orphans.is_empty(), "in no kustomization: {orphans:?}");

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: x\n",
    )
    .unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/kustomize_render.py"))
        .arg(tmp.path())
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not implement: ['images']"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
