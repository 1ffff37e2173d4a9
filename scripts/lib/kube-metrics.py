"""A stand-in for kube-state-metrics and cAdvisor in the demo, which has no Kubernetes.

Serves, in those programs' series names and labels, the pods that the demo's exporter
targets are labelled with (namespace "mail"): a Postfix StatefulSet pod with its exporter as
a regular sidecar container, a Dovecot pod with its exporter as a native sidecar (an init
container with restartPolicy Always, which kube-state-metrics reports as
kube_pod_init_container_*), a ProFTPd pod, and the prober's Deployment pod. Counters grow
with time; postfix-exporter restarted once after an OOM kill, dovecot-exporter is throttled.

Usage: kube-metrics.py PORT
"""

import http.server
import sys
import time

NS = "mail"
# (pod, container, native sidecar?, memory limit bytes, working set bytes, throttled share)
CONTAINERS = [
    ("postfix-0", "postfix", False, 512 * 2**20, 180 * 2**20, 0.0),
    ("postfix-0", "postfix-exporter", False, 64 * 2**20, 14 * 2**20, 0.02),
    ("dovecot-0", "dovecot", False, 1024 * 2**20, 300 * 2**20, 0.0),
    ("dovecot-0", "dovecot-exporter", True, 64 * 2**20, 22 * 2**20, 0.3),
    ("proftpd-0", "proftpd", False, 256 * 2**20, 60 * 2**20, 0.0),
    ("proftpd-0", "proftpd-exporter", False, 64 * 2**20, 12 * 2**20, 0.0),
    ("mailprobe-6f7c9d8b7-x2kqp", "mailprobe-exporter", False, 128 * 2**20, 16 * 2**20, 0.0),
]
START = time.time()


def labels(**kv):
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


def body():
    t = time.time() - START
    out = []

    def family(name, kind, rows):
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{name}{lab} {val}" for lab, val in rows)

    def ksm(suffix, value_of, kind="gauge", extra=None):
        for sidecar in (False, True):
            prefix = "kube_pod_init_container_" if sidecar else "kube_pod_container_"
            rows = []
            for pod, c, sc, *_ in CONTAINERS:
                if sc != sidecar:
                    continue
                v = value_of(pod, c)
                if v is None:
                    continue
                lab = dict(namespace=NS, pod=pod, container=c, uid=f"uid-{pod}")
                lab.update(extra(pod, c) if extra else {})
                rows.append((labels(**lab), v))
            if rows:
                family(prefix + suffix, kind, rows)

    ksm("info", lambda p, c: 1, extra=lambda p, c: dict(
        image=f"registry.example.net/{c}:1", image_id="", container_id="",
        restart_policy="Always" if c == "dovecot-exporter" else ""))
    ksm("status_ready", lambda p, c: 1)
    ksm("status_restarts_total", lambda p, c: 1 if c == "postfix-exporter" else 0, "counter")
    ksm("status_last_terminated_reason",
        lambda p, c: 1 if c == "postfix-exporter" else None,
        extra=lambda p, c: dict(reason="OOMKilled"))
    ksm("status_waiting_reason", lambda p, c: None)
    rows = [(labels(namespace=NS, pod=p, container=c), int(t * 10)) for p, c, *_ in CONTAINERS]
    family("container_cpu_cfs_periods_total", "counter", rows)
    rows = [(labels(namespace=NS, pod=p, container=c), int(t * 10 * th))
            for p, c, _, _, _, th in CONTAINERS]
    family("container_cpu_cfs_throttled_periods_total", "counter", rows)
    rows = [(labels(namespace=NS, pod=p, container=c), ws + int(t) % 4096 * 1024)
            for p, c, _, _, ws, _ in CONTAINERS]
    family("container_memory_working_set_bytes", "gauge", rows)
    rows = [(labels(namespace=NS, pod=p, container=c), lim) for p, c, _, lim, _, _ in CONTAINERS]
    family("container_spec_memory_limit_bytes", "gauge", rows)
    return "\n".join(out) + "\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = body().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
