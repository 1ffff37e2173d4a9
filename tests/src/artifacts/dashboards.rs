//! The Grafana dashboards: `dashboards/src/*.yml` (panels, queries, units and words only)
//! rendered into the import-ready `dashboards/*.json` (schemaVersion 42, a `datasource`
//! variable, `job`/`instance` or `namespace`/`pod` variables, ids and grid positions).
//!
//! The layout, variables and data source references are the same in every dashboard, so
//! they are made here once; the sources hold what differs. In a query, `@sel` stands for the
//! dashboard's job and instance matchers and `@pod` for its namespace and pod matchers.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use serde_json::{Value, json};

/// The Grafana dashboard schema version the files are written in.
pub const SCHEMA_VERSION: u64 = 42;

/// What `@sel` becomes in a query.
pub const SEL: &str = r#"job=~"$job", instance=~"$instance""#;

/// What `@pod` becomes in a query.
pub const POD: &str = r#"namespace=~"$namespace", pod=~"$pod""#;

/// One dashboard source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Stable uid (URLs and provisioning depend on it).
    pub uid: String,
    /// Title.
    pub title: String,
    /// What the dashboard is for.
    pub description: String,
    /// Tags (`mail` is added).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The metric whose label values fill the `job` and `instance` variables.
    #[serde(default)]
    pub job_metric: Option<String>,
    /// The metric whose label values fill the `namespace` and `pod` variables.
    #[serde(default)]
    pub pod_metric: Option<String>,
    /// Rows of panels, top to bottom.
    pub rows: Vec<Row>,
}

/// A titled row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// Row title.
    pub title: String,
    /// Panels, left to right, wrapping at the grid's 24 columns.
    pub panels: Vec<Panel>,
}

/// A panel kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Lines over time.
    Timeseries,
    /// One number.
    Stat,
    /// A table of an instant query.
    Table,
    /// A heatmap of histogram buckets.
    Heatmap,
    /// Horizontal bars of an instant query.
    Bargauge,
}

impl Kind {
    fn plugin(self) -> &'static str {
        match self {
            Kind::Timeseries => "timeseries",
            Kind::Stat => "stat",
            Kind::Table => "table",
            Kind::Heatmap => "heatmap",
            Kind::Bargauge => "bargauge",
        }
    }
}

/// A panel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// Title.
    pub title: String,
    /// What it shows and how to read it.
    pub description: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Grafana unit id (`short`, `s`, `bytes`, `percentunit`, `ops`, `Bps`, `none`, ...).
    pub unit: String,
    /// Width in grid columns (of 24).
    #[serde(default = "default_width")]
    pub width: u64,
    /// Height in grid rows.
    #[serde(default = "default_height")]
    pub height: u64,
    /// Stack the series (timeseries).
    #[serde(default)]
    pub stack: bool,
    /// Lowest value on the axis.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest value on the axis.
    #[serde(default)]
    pub max: Option<f64>,
    /// A table whose rows are `rows` and columns `columns` label values (Grafana's
    /// grouping-to-matrix transformation).
    #[serde(default)]
    pub matrix: Option<Matrix>,
    /// Queries.
    pub targets: Vec<Target>,
}

/// The row and column labels of a matrix table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// The label whose values are rows.
    pub rows: String,
    /// The label whose values are columns.
    pub columns: String,
}

fn default_width() -> u64 {
    12
}

fn default_height() -> u64 {
    8
}

/// A query.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// PromQL, with `@sel` / `@pod` for the dashboard's matchers.
    pub expr: String,
    /// Legend (`{{label}}`).
    #[serde(default)]
    pub legend: Option<String>,
}

/// `expr` with `@sel` and `@pod` replaced.
pub fn expand(expr: &str) -> String {
    expr.replace("@sel", SEL).replace("@pod", POD)
}

fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

fn query_variable(name: &str, query: String) -> Value {
    json!({
        "name": name,
        "label": name,
        "type": "query",
        "datasource": datasource(),
        "query": query.clone(),
        "definition": query,
        "refresh": 2,
        "multi": true,
        "includeAll": true,
        "allValue": ".+",
        "sort": 1,
        "current": { "selected": true, "text": ["All"], "value": ["$__all"] },
    })
}

fn variables(spec: &Spec) -> Result<Vec<Value>> {
    let mut v = vec![json!({
        "name": "datasource",
        "label": "Data Source",
        "type": "datasource",
        "query": "prometheus",
        "refresh": 1,
    })];
    if let Some(m) = &spec.job_metric {
        v.push(query_variable("job", format!("label_values({m}, job)")));
        v.push(query_variable(
            "instance",
            format!(r#"label_values({m}{{job=~"$job"}}, instance)"#),
        ));
    }
    if let Some(m) = &spec.pod_metric {
        v.push(query_variable(
            "namespace",
            format!("label_values({m}, namespace)"),
        ));
        v.push(query_variable(
            "pod",
            format!(r#"label_values({m}{{namespace=~"$namespace"}}, pod)"#),
        ));
    }
    ensure!(v.len() > 1, "{}: give job_metric or pod_metric", spec.uid);
    Ok(v)
}

fn panel(p: &Panel, id: u64, x: u64, y: u64) -> Value {
    let targets: Vec<Value> = p
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut q = json!({
                "refId": ((b'A' + i as u8) as char).to_string(),
                "datasource": datasource(),
                "expr": expand(&t.expr),
                "legendFormat": t.legend.clone().unwrap_or_else(|| "__auto".into()),
                "range": true,
                "instant": false,
            });
            match p.kind {
                Kind::Table | Kind::Bargauge => {
                    q["range"] = json!(false);
                    q["instant"] = json!(true);
                    q["format"] = json!("table");
                }
                Kind::Heatmap => q["format"] = json!("heatmap"),
                _ => {}
            }
            q
        })
        .collect();
    let mut defaults = json!({ "unit": p.unit });
    if let Some(m) = p.min {
        defaults["min"] = json!(m);
    }
    if let Some(m) = p.max {
        defaults["max"] = json!(m);
    }
    let options = match p.kind {
        Kind::Timeseries => {
            defaults["custom"] = json!({
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": if p.stack { 30 } else { 10 },
                "showPoints": "never",
                "stacking": { "mode": if p.stack { "normal" } else { "none" }, "group": "A" },
            });
            json!({
                "legend": { "displayMode": "table", "placement": "right", "showLegend": true, "calcs": ["lastNotNull", "max"] },
                "tooltip": { "mode": "multi", "sort": "desc" },
            })
        }
        Kind::Stat => json!({
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }),
        Kind::Table => json!({ "showHeader": true, "cellHeight": "sm" }),
        Kind::Bargauge => json!({
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": true },
            "orientation": "horizontal",
            "displayMode": "gradient",
        }),
        Kind::Heatmap => json!({
            "calculate": false,
            "yAxis": { "unit": p.unit },
            "cellGap": 1,
            "color": { "mode": "scheme", "scheme": "Oranges", "steps": 64 },
        }),
    };
    let mut v = json!({
        "id": id,
        "type": p.kind.plugin(),
        "title": p.title,
        "description": p.description,
        "datasource": datasource(),
        "gridPos": { "h": p.height, "w": p.width, "x": x, "y": y },
        "fieldConfig": { "defaults": defaults, "overrides": [] },
        "options": options,
        "targets": targets,
    });
    if let Some(m) = &p.matrix {
        v["transformations"] = json!([
            { "id": "groupingToMatrix", "options": { "rowField": m.rows, "columnField": m.columns, "valueField": "Value" } }
        ]);
    } else if matches!(p.kind, Kind::Table) {
        v["transformations"] = json!([
            { "id": "organize", "options": { "excludeByName": { "Time": true } } }
        ]);
    }
    v
}

/// The dashboard JSON of `spec`.
pub fn render(spec: &Spec) -> Result<Value> {
    ensure!(
        spec.uid.len() <= 40,
        "{}: a uid has at most 40 characters",
        spec.uid
    );
    let mut panels = Vec::new();
    let (mut id, mut y) = (1u64, 0u64);
    for row in &spec.rows {
        panels.push(json!({
            "id": id, "type": "row", "title": row.title, "collapsed": false, "panels": [],
            "gridPos": { "h": 1, "w": 24, "x": 0, "y": y },
        }));
        id += 1;
        y += 1;
        let (mut x, mut line_h) = (0u64, 0u64);
        for p in &row.panels {
            ensure!(
                (1..=24).contains(&p.width),
                "{}: panel {:?}: width 1..24",
                spec.uid,
                p.title
            );
            if x + p.width > 24 {
                x = 0;
                y += line_h;
                line_h = 0;
            }
            panels.push(panel(p, id, x, y));
            id += 1;
            x += p.width;
            line_h = line_h.max(p.height);
        }
        y += line_h;
    }
    let mut tags = vec!["mail".to_string()];
    tags.extend(spec.tags.iter().cloned());
    Ok(json!({
        "uid": spec.uid,
        "title": spec.title,
        "description": spec.description,
        "tags": tags,
        "editable": true,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [{
            "title": "Mail dashboards", "type": "dashboards", "tags": ["mail"], "icon": "external link",
            "tooltip": "", "asDropdown": true, "targetBlank": false, "includeVars": true, "keepTime": true,
        }],
        "annotations": { "list": [{
            "builtIn": 1,
            "datasource": { "type": "grafana", "uid": "-- Grafana --" },
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "templating": { "list": variables(spec)? },
        "panels": panels,
    }))
}

/// Every dashboard of `src_dir` as (file stem, JSON), sorted by file name.
pub fn render_dir(src_dir: &Path) -> Result<Vec<(String, Value)>> {
    let names = super::yml_sources(src_dir, "")?;
    let mut out = Vec::new();
    for name in names {
        let path = src_dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let spec: Spec = serde_norway::from_str(&text)
            .with_context(|| format!("parsing dashboards/src/{name}"))?;
        let json = render(&spec).with_context(|| format!("dashboards/src/{name}"))?;
        let Some(stem) = name.strip_suffix(".yml") else {
            bail!("{name}: not a .yml file");
        };
        out.push((stem.to_string(), json));
    }
    Ok(out)
}
