//! The OpenAPI 3 document served at `/openapi.json`. Its base is written by
//! hand in `openapi.json` beside this file (a test checks it lists exactly the
//! routes of [`crate::routes::ROUTES`]); at start the server fills in what its
//! configuration decides: the language ids, the limits' maxima, the most tests.

use serde_json::{json, Value};

use crate::config::Config;

pub const BASE: &str = include_str!("openapi.json");

/// The document for this server's configuration and languages.
pub fn document(config: &Config, languages: &[String]) -> Value {
    let mut doc: Value = serde_json::from_str(BASE).expect("openapi.json is valid JSON (tested)");
    let schemas = &mut doc["components"]["schemas"];
    if !languages.is_empty() {
        schemas["SubmissionRequest"]["properties"]["language"]["enum"] = json!(languages);
    }
    let max = &config.max_limits;
    for (field, value) in [
        ("cpu_time_ms", max.cpu_time_ms),
        ("wall_time_ms", max.wall_time_ms),
        ("memory_kb", max.memory_kb),
        ("processes", u64::from(max.processes)),
        ("output_bytes", max.output_bytes),
    ] {
        schemas["Limits"]["properties"][field]["maximum"] = json!(value);
    }
    schemas["SubmissionRequest"]["properties"]["tests"]["maxItems"] =
        json!(config.limits.max_tests);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_matches_the_routes() {
        let doc: Value = serde_json::from_str(BASE).expect("valid JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let paths = doc["paths"].as_object().expect("paths");
        for (route, methods) in crate::routes::ROUTES {
            let item = paths
                .get(*route)
                .unwrap_or_else(|| panic!("{route} missing from openapi.json"));
            for m in *methods {
                assert!(
                    item.get(*m).is_some(),
                    "{m} {route} missing from openapi.json"
                );
            }
        }
        assert_eq!(
            paths.len(),
            crate::routes::ROUTES.len(),
            "openapi.json has paths the router lacks"
        );
    }

    #[test]
    fn configuration_is_filled_in() {
        let config = Config::resolve(&crate::ServeArgs::default()).unwrap();
        let doc = document(&config, &["python".into()]);
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["SubmissionRequest"]["properties"]["language"]["enum"],
            json!(["python"])
        );
        assert_eq!(
            s["Limits"]["properties"]["memory_kb"]["maximum"],
            json!(config.max_limits.memory_kb)
        );
    }
}
