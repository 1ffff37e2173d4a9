//! The real-world corpus: log lines and daemon outputs from other projects' fixtures, kept
//! beside the repository (never in it: it is third-party data under its own licences).
//! Checks that need it run when it is there and say that they were skipped when it is not,
//! so a fresh clone passes without it.
//!
//! Where it is looked for: `$MAIL_CORPUS_DIR` when set, else a `shared/corpus` directory
//! next to the checkout (the layout the project was developed in).

use std::path::PathBuf;

use crate::workspace_root;

/// The corpus directory for `daemon` (`postfix`, `dovecot`, `proftpd`), or `None` after
/// printing why the calling check is skipped.
pub fn dir(daemon: &str, check: &str) -> Option<PathBuf> {
    beside("MAIL_CORPUS_DIR", "corpus", daemon, check, "corpus", |p| {
        p.is_dir()
    })
}

/// `$env/rel`, else `shared/sub/rel` next to the checkout, when `exists` says it is there;
/// otherwise `None` after printing that `check` is skipped.
fn beside(
    env: &str,
    sub: &str,
    rel: &str,
    check: &str,
    what: &str,
    exists: fn(&PathBuf) -> bool,
) -> Option<PathBuf> {
    let base = match std::env::var_os(env) {
        Some(d) => PathBuf::from(d),
        None => workspace_root()
            .parent()
            .map(|p| p.join("shared").join(sub))
            .unwrap_or_default(),
    };
    let p = base.join(rel);
    if exists(&p) {
        Some(p)
    } else {
        println!("{check}: skipped, no {what} at {} (set {env})", p.display());
        None
    }
}

/// The `*.log` files of corpus dir `dir`, sorted, with their file names.
#[allow(clippy::unwrap_used)]
pub fn log_files(dir: &std::path::Path) -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (p, name)
        })
        .collect()
}

/// `corpus file → unsupported lines` from the table that follows the
/// `<!-- corpus-unsupported` marker in `doc` (a docs/*.md file under the workspace root):
/// the first two columns of each row, backquotes dropped.
#[allow(clippy::panic)]
pub fn documented_unsupported(doc: &str) -> std::collections::BTreeMap<String, f64> {
    let path = workspace_root().join(doc);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let Some((_, table)) = text.split_once("<!-- corpus-unsupported") else {
        panic!("{doc} has no corpus-unsupported table");
    };
    table
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let n = cells
                .get(2)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("{doc}: not a count in {l}"));
            (cells.get(1).unwrap_or(&"").trim_matches('`').to_string(), n)
        })
        .collect()
}

/// An offline JSON schema (Grafana's dashboard schema, the operators' CRD schemas) kept
/// beside the repository like the corpus: `$MAIL_SCHEMAS_DIR/rel` when that is set, else
/// `shared/schemas/rel` next to the checkout; `None` after printing why `check` is skipped.
pub fn schema(rel: &str, check: &str) -> Option<PathBuf> {
    beside("MAIL_SCHEMAS_DIR", "schemas", rel, check, "schema", |p| {
        p.is_file()
    })
}
