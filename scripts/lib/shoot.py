#!/usr/bin/env python3
"""Full-page screenshots of console pages with headless Chromium, and what each page drew.

Usage: shoot.py --out DIR [--chromium PATH] [--range SECONDS] [--timeout SECONDS] NAME=URL...

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: no port to
pick, nothing listening), so the shot is taken when the page's graphs are drawn, not after a
guessed delay, and covers the whole page rather than the window. Writes DIR/NAME.png per page
and DIR/report.json: per page its size and, per panel (div.panel), the title, the graph's box
in page pixels, the stroke colours and point counts of the plotted lines, and the error text
the console library shows instead of a graph ("No timeseries returned", "Error loading data").
The test suite asserts on the report and on the pixels (tests/tests/demo_dashboards_alerts.rs);
scripts/screenshots.sh uses it for the README's pictures. Standard library only.
"""

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

# What a page drew, per panel; evaluated in the page until every panel has a graph or an error.
PANELS_JS = r"""
(function() {
  var out = [];
  document.querySelectorAll("div.panel").forEach(function(panel) {
    var err = panel.querySelector(".prom_graph_error");
    var svg = panel.querySelector("svg");
    var lines = [];
    panel.querySelectorAll("svg path.path").forEach(function(p) {
      var d = p.getAttribute("d") || "";
      lines.push({stroke: p.getAttribute("stroke") || "",
                  points: (d.match(/[ML]/g) || []).length});
    });
    var box = null;
    if (svg) {
      var r = svg.getBoundingClientRect();
      box = {x: r.left + window.scrollX, y: r.top + window.scrollY,
             width: r.width, height: r.height};
    }
    out.push({title: panel.getAttribute("data-title") || "",
              error: err ? err.textContent : "", box: box, lines: lines});
  });
  return out;
})()
"""


class Browser:
    """Chromium with its DevTools protocol on fds 3 (commands in) and 4 (replies out)."""

    def __init__(self, chromium, profile):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above 4 first so the dup2s below cannot clobber one another.
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)

        def fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [chromium, "--headless", "--remote-debugging-pipe", "--disable-gpu",
                "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                "about:blank"]
        if os.geteuid() == 0:
            # Chromium refuses to run as root with its sandbox; CI and the lab run as root.
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=fds,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for fd in (to_child_r, from_child_w, hi_r, hi_w):
            os.close(fd)
        self._buf = b""
        self._id = 0
        self._events = []

    def send(self, method, params=None, session=None, timeout=30):
        """One command; returns its result, keeping the events that arrive meanwhile."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._events.append(m)

    def wait_event(self, method, session, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self._events):
                if e.get("method") == method and e.get("sessionId") == session:
                    del self._events[i]
                    return e
            self._events.append(self._read(deadline))

    def _read(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def with_range(url, seconds):
    """The console library's own URL form for a range ending now."""
    state = json.dumps({"duration": seconds, "endTime": 0}, separators=(",", ":"))
    return url.split("#", 1)[0] + "#pctc" + urllib.parse.quote(state)


def shoot(browser, name, url, out, timeout):
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    browser.send("Page.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                 session=session)
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_event("Page.loadEventFired", session, timeout)
    deadline = time.monotonic() + timeout
    while True:
        r = browser.send("Runtime.evaluate",
                         {"expression": PANELS_JS, "returnByValue": True}, session=session)
        panels = r.get("result", {}).get("value") or []
        done = all(p["error"] or p["lines"] for p in panels)
        if (panels and done) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # One more frame so what the DOM holds is also painted.
    time.sleep(0.5)
    size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    width, height = int(size["width"]), int(size["height"])
    shot = browser.send("Page.captureScreenshot",
                        {"format": "png", "captureBeyondViewport": True,
                         "clip": {"x": 0, "y": 0, "width": width, "height": height,
                                  "scale": 1}},
                        session=session, timeout=60)
    path = os.path.join(out, name + ".png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    browser.send("Target.closeTarget", {"targetId": target})
    return {"name": name, "url": url, "png": name + ".png", "width": width, "height": height,
            "complete": done, "panels": panels}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--range", type=int, default=0,
                    help="graph range in seconds, ending now (default: the page's)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("pages", nargs="+", metavar="NAME=URL")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="shoot-profile-")
    browser = Browser(a.chromium, profile)
    report = []
    try:
        for page in a.pages:
            name, _, url = page.partition("=")
            if a.range:
                url = with_range(url, a.range)
            report.append(shoot(browser, name, url, a.out, a.timeout))
            p = report[-1]
            drawn = sum(1 for x in p["panels"] if x["lines"])
            print(f"{name}: {p['width']}x{p['height']} px, {drawn}/{len(p['panels'])} "
                  f"panels drawn -> {os.path.join(a.out, p['png'])}", file=sys.stderr)
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
