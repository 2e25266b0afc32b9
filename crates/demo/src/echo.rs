//! `/api/echo`: what the target saw of the request, as JSON.

use std::net::SocketAddr;

use http::request::Parts;
use serde_json::{json, Value};

/// The echo document for a request whose head is `parts` and whose body had `body_bytes` bytes.
pub fn document(instance: &str, peer: SocketAddr, parts: &Parts, body_bytes: usize) -> Value {
    // HeaderMap keeps every value of a repeated header, in arrival order, grouped under its first
    // occurrence; names arrive lower-cased.
    let headers: Vec<Value> = parts
        .headers
        .iter()
        .map(|(name, value)| json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())]))
        .collect();
    json!({
        "instance": instance,
        "peer": peer.to_string(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body_bytes": body_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_keeps_duplicates_and_query() {
        let req = http::Request::builder()
            .method("POST")
            .uri("/api/echo?a=1&b")
            .header("x-a", "1")
            .header("x-b", "2")
            .header("x-a", "3")
            .body(())
            .unwrap_or_default();
        let (parts, ()) = req.into_parts();
        let peer = SocketAddr::from(([127, 0, 0, 1], 4000));
        let doc = document("web-1", peer, &parts, 5);
        assert_eq!(doc["instance"], "web-1");
        assert_eq!(doc["peer"], "127.0.0.1:4000");
        assert_eq!(doc["method"], "POST");
        assert_eq!(doc["path"], "/api/echo");
        assert_eq!(doc["query"], "a=1&b");
        assert_eq!(doc["version"], "HTTP/1.1");
        assert_eq!(doc["body_bytes"], 5);
        assert_eq!(
            doc["headers"],
            json!([["x-a", "1"], ["x-a", "3"], ["x-b", "2"]])
        );
    }

    #[test]
    fn absent_query_is_null() {
        let (parts, ()) = http::Request::new(()).into_parts();
        let doc = document("i", SocketAddr::from(([10, 0, 0, 1], 1)), &parts, 0);
        assert!(doc["query"].is_null());
        assert_eq!(doc["path"], "/");
    }
}
