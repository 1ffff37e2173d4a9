//! Prometheus console pages of the dashboards: `dashboards/consoles/*.html`, one per
//! dashboard, with the same rows, panel titles, descriptions and queries drawn as graphs by
//! the console library that ships with Prometheus 2.x (`prom_console.js`, Rickshaw).
//!
//! Grafana cannot run where the project is built, Prometheus' classic UI can: the demo runs
//! Prometheus beside vmagent with these pages, so a person can look at the panels' data.
//! They are generated from the dashboard JSON, so they cannot drift from it.

use anyhow::{Context, Result};
use serde_json::Value;

/// Grafana's interval variables as the pages ask Prometheus for them.
const INTERVALS: [(&str, &str); 3] = [
    ("$__rate_interval", "1m"),
    ("$__interval", "1m"),
    ("$__range", "1h"),
];

/// A dashboard query as a console page sends it: every variable at "All".
pub fn console_expr(expr: &str) -> String {
    let mut e = expr.to_string();
    for (var, with) in INTERVALS {
        e = e.replace(var, with);
    }
    for var in ["job", "instance", "namespace", "pod"] {
        e = e.replace(&format!("${var}"), ".+");
    }
    e
}

/// Grafana's `{{label}}` legends in the console library's `[[label]]` form.
fn legend(l: &str) -> String {
    l.replace("{{", "[[ ").replace("}}", " ]]")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text the page's Go template must print as it is: `{{` would start an action.
fn literal(s: &str) -> String {
    s.replace("{{", "{{ \"{{\" }}")
}

/// The y-axis formatter of a Grafana unit.
fn formatter(unit: &str) -> &'static str {
    match unit {
        "bytes" | "Bps" => "PromConsole.NumberFormatter.humanize1024",
        "percentunit" => "function(v) { return (v * 100).toFixed(1) + \"%\"; }",
        _ => "PromConsole.NumberFormatter.humanizeNoSmallPrefix",
    }
}

/// What the y axis title says of a Grafana unit.
fn axis_unit(unit: &str) -> &'static str {
    match unit {
        "s" => " s",
        "bytes" => " B",
        "Bps" => " B/s",
        "ops" => " /s",
        _ => "",
    }
}

/// The console page of one dashboard's JSON.
pub fn render(dashboard: &Value) -> Result<String> {
    let title = dashboard["title"].as_str().context("no title")?;
    let description = dashboard["description"].as_str().unwrap_or_default();
    let mut html = format!(
        r#"<!doctype html>
<!-- Generated from the dashboard {uid} by scripts/generate.sh: edit dashboards/src, not this file. -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>{t}</title>
<link type="text/css" rel="stylesheet" href="{{{{ pathPrefix }}}}/classic/static/rickshaw/rickshaw.min.css">
<link type="text/css" rel="stylesheet" href="{{{{ pathPrefix }}}}/classic/static/css/prom_console.css">
<script src="{{{{ pathPrefix }}}}/classic/static/d3/d3.min.js"></script>
<script src="{{{{ pathPrefix }}}}/classic/static/rickshaw/rickshaw.min.js"></script>
<script src="{{{{ pathPrefix }}}}/classic/static/jquery/jquery.min.js"></script>
<script>var PATH_PREFIX = "{{{{ pathPrefix }}}}";</script>
<script src="{{{{ pathPrefix }}}}/classic/static/js/prom_console.js"></script>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; }}
.panels {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.panel {{ border: 1px solid #ddd; padding: 0.5em; width: 46%; min-width: 420px; }}
.panel h3 {{ margin: 0.2em 0; font-size: 1em; }}
.panel p {{ margin: 0.2em 0 0.5em; color: #555; font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{t}</h1>
<p>{d}</p>
"#,
        uid = literal(dashboard["uid"].as_str().unwrap_or_default()),
        t = literal(&escape_html(title)),
        d = literal(&escape_html(description)),
    );
    let mut n = 0;
    let mut open = false;
    for p in dashboard["panels"].as_array().context("no panels")? {
        let ptitle = p["title"].as_str().unwrap_or_default();
        if p["type"] == "row" {
            if open {
                html.push_str("</div>\n");
            }
            html.push_str(&format!(
                "<h2>{}</h2>\n<div class=\"panels\">\n",
                literal(&escape_html(ptitle))
            ));
            open = true;
            continue;
        }
        n += 1;
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        let exprs: Vec<String> = targets
            .iter()
            .map(|t| console_expr(t["expr"].as_str().unwrap_or_default()))
            .collect();
        let names: Vec<String> = targets
            .iter()
            .map(|t| match t["legendFormat"].as_str() {
                Some(l) if l != "__auto" => legend(l),
                _ => String::new(),
            })
            .collect();
        let unit = p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .unwrap_or("short");
        html.push_str(&format!(
            r##"<div class="panel" data-title="{title}">
<h3>{title}</h3>
<p>{desc}</p>
<div id="graph{n}"></div>
<script>
new PromConsole.Graph({{
  node: document.querySelector("#graph{n}"),
  expr: {exprs},
  name: {names},
  yAxisFormatter: {fmt},
  yHoverFormatter: {fmt},
  yUnits: {unit},
  yTitle: {ytitle},
  renderer: "line",
  duration: 3600,
  width: 520,
  height: 180
}});
</script>
</div>
"##,
            title = literal(&escape_html(ptitle)),
            desc = literal(&escape_html(p["description"].as_str().unwrap_or_default())),
            exprs = literal(&serde_json::to_string(&exprs)?),
            names = literal(&serde_json::to_string(&names)?),
            fmt = formatter(unit),
            unit = serde_json::to_string(axis_unit(unit))?,
            ytitle = literal(&serde_json::to_string(ptitle)?),
        ));
    }
    if open {
        html.push_str("</div>\n");
    }
    html.push_str("</body>\n</html>\n");
    Ok(html)
}
