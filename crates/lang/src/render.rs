//! `kiln languages` output: a table for people, JSON for programs.

use serde_json::{json, Value};

use crate::catalog::Catalog;

impl Catalog {
    /// Human output of `kiln languages`.
    pub fn render_table(&self) -> String {
        table(self)
    }

    /// `kiln languages --json`: `{"available": [{id, name, version,
    /// extensions, compiled}], "missing": [{id, reason, install_hint}]}`.
    pub fn to_json(&self) -> Value {
        json(self)
    }
}

fn table(catalog: &Catalog) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "VERSION".to_string(),
        "KIND".to_string(),
        "EXTENSIONS".to_string(),
        "ALIASES".to_string(),
    ]];
    for l in catalog.available() {
        let kind = if l.is_compiled() {
            "compiled"
        } else {
            "interpreted"
        };
        rows.push([
            l.id.clone(),
            l.version.clone(),
            kind.to_string(),
            l.extensions.join(" "),
            l.aliases.join(" "),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if !catalog.missing().is_empty() {
        out.push_str("\nMissing toolchains:\n");
        for m in catalog.missing() {
            out.push_str(&format!(
                "  {:<10}  {}\n  {:<10}  install: {}\n",
                m.id, m.reason, "", m.install_hint
            ));
        }
        out.push_str("  (or install them all: scripts/install-toolchains.sh)\n");
    }
    out
}

fn json(catalog: &Catalog) -> Value {
    let available: Vec<Value> = catalog
        .available()
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "version": l.version,
                "extensions": l.extensions,
                "compiled": l.is_compiled(),
            })
        })
        .collect();
    let missing: Vec<Value> = catalog
        .missing()
        .iter()
        .map(|m| json!({ "id": m.id, "reason": m.reason, "install_hint": m.install_hint }))
        .collect();
    json!({ "available": available, "missing": missing })
}
