//! The OpenAPI 3 document served at `/openapi.json`. It is written by hand in
//! `openapi.json` beside this file; a test checks it parses and lists exactly
//! the routes of [`crate::routes::ROUTES`].

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_matches_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let paths = doc["paths"].as_object().expect("paths");
        for (route, methods) in crate::routes::ROUTES {
            let item = paths.get(*route).unwrap_or_else(|| panic!("{route} missing from openapi.json"));
            for m in *methods {
                assert!(item.get(*m).is_some(), "{m} {route} missing from openapi.json");
            }
        }
        assert_eq!(paths.len(), crate::routes::ROUTES.len(), "openapi.json has paths the router lacks");
    }
}
