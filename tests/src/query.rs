//! PromQL instant queries against the Prometheus HTTP API (VictoriaMetrics and Prometheus).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::http;

/// One element of an instant-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels, `__name__` included when the server returns it.
    pub labels: BTreeMap<String, String>,
    /// The value at the query time.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, or `""`.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// `GET {base_url}/api/v1/query?query=promql` and the vector (or scalar) it returns.
pub fn query(base_url: &str, promql: &str) -> Result<Vec<Sample>> {
    let url = format!("{base_url}/api/v1/query?query={}", http::urlencode(promql));
    let resp = http::get(&url, &[])?;
    let text = resp.text();
    if resp.status != 200 {
        bail!("query {promql:?} -> HTTP {}: {text}", resp.status);
    }
    parse_query_response(&text).with_context(|| format!("query {promql:?} -> {text}"))
}

/// Parses the JSON body of `/api/v1/query`.
pub fn parse_query_response(text: &str) -> Result<Vec<Sample>> {
    let v: Value = serde_json::from_str(text)?;
    if v["status"] != "success" {
        bail!("status is not success");
    }
    let data = &v["data"];
    let parse_value = |pair: &Value| -> Result<f64> {
        let s = pair
            .get(1)
            .and_then(Value::as_str)
            .context("value is not [ts, \"v\"]")?;
        match s {
            "NaN" => Ok(f64::NAN),
            "+Inf" => Ok(f64::INFINITY),
            "-Inf" => Ok(f64::NEG_INFINITY),
            _ => s.parse().with_context(|| format!("bad value {s:?}")),
        }
    };
    match data["resultType"].as_str() {
        Some("vector") => {
            let mut out = Vec::new();
            for r in data["result"]
                .as_array()
                .context("result is not an array")?
            {
                let labels = r["metric"]
                    .as_object()
                    .context("metric is not an object")?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                out.push(Sample {
                    labels,
                    value: parse_value(&r["value"])?,
                });
            }
            Ok(out)
        }
        Some("scalar") => Ok(vec![Sample {
            labels: BTreeMap::new(),
            value: parse_value(&data["result"])?,
        }]),
        other => bail!("unsupported resultType {other:?}"),
    }
}

/// Repeats [`query`] every 250 ms until `pred` accepts the result; fails after `timeout`
/// with the last result (or error).
pub fn wait_for_query(
    base_url: &str,
    promql: &str,
    pred: impl Fn(&[Sample]) -> bool,
    timeout: Duration,
) -> Result<Vec<Sample>> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = query(base_url, promql);
        if let Ok(samples) = &last
            && pred(samples)
        {
            return last;
        }
        if Instant::now() >= deadline {
            bail!("after {timeout:?}, query {promql:?} at {base_url} still gives {last:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A scrape config with one static target, scraped every second.
pub fn scrape_config(job: &str, target: &str, metrics_path: &str) -> String {
    scrape_config_jobs(&[(job, target, metrics_path)])
}

/// A scrape config with one job per `(job, target, metrics_path)`, all scraped every second.
pub fn scrape_config_jobs(jobs: &[(&str, &str, &str)]) -> String {
    let mut s =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for (job, target, metrics_path) in jobs {
        s.push_str(&format!(
            "  - job_name: {job:?}\n    metrics_path: {metrics_path:?}\n    \
             static_configs:\n      - targets: [{target:?}]\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vector_and_scalar() {
        let v = parse_query_response(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1700000000.1,"1"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].label("job"), "x");
        assert_eq!(v[0].value, 1.0);
        let s = parse_query_response(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2.5"]}}"#,
        )
        .unwrap();
        assert_eq!(s[0].value, 2.5);
    }

    #[test]
    fn scrape_config_is_yaml_with_quoted_strings() {
        assert_eq!(
            scrape_config("postfix", "127.0.0.1:9154", "/metrics"),
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: \"postfix\"\n    metrics_path: \"/metrics\"\n    static_configs:\n      - targets: [\"127.0.0.1:9154\"]\n"
        );
    }
}
