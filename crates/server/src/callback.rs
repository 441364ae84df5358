//! `callback_url`: checked when submitted and again before each delivery (the
//! name is resolved and every address must be public unless the config allows
//! private ones, and the POST goes to exactly the addresses checked, so DNS
//! rebinding cannot redirect it), then the result is POSTed with a timeout and
//! bounded retries with exponential backoff. Deliveries live in memory: a
//! restart loses pending retries, never results (clients can still GET them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

/// Callback delivery settings.
#[derive(Debug, Clone)]
pub struct CallbackPolicy {
    pub allow_private: bool,
    pub timeout: Duration,
    pub retries: u32,
}

/// Syntax check: an absolute `http`/`https` URL with a host.
pub fn parse_url(s: &str) -> Result<Url, String> {
    if s.len() > 2048 {
        return Err("is longer than 2048 bytes".into());
    }
    let url = Url::parse(s)
        .map_err(|e| format!("is not a valid URL ({e}); give an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme {:?}; only http and https are allowed",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    Ok(url)
}

/// Resolves the URL's host; every address must be allowed. Returns them.
pub async fn resolve_allowed(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().ok_or("has no port")?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("host {host:?} does not resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("host {host:?} has no address"));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(format!(
                "host {host:?} resolves to {}, a loopback, private, link-local or otherwise internal address; \
                 callbacks there are refused unless the server sets allow_private_callbacks",
                bad.ip()
            ));
        }
    }
    Ok(addrs)
}

/// Loopback, unspecified, private, link-local, shared (CGNAT), multicast,
/// broadcast, documentation and other non-global addresses.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || ip.to_ipv4().is_some_and(|v4| ip.segments()[..6] == [0; 6] && is_internal_v4(v4))
}

/// POSTs `body` to `url`, retrying with backoff; true when a 2xx came back.
pub async fn deliver(url: &Url, body: &serde_json::Value, policy: &CallbackPolicy) -> bool {
    let mut backoff = Duration::from_millis(500);
    for attempt in 0..=policy.retries {
        match post_once(url, body, policy).await {
            Ok(()) => {
                metrics::counter!(crate::metrics::CALLBACKS, "outcome" => "delivered").increment(1);
                return true;
            }
            Err(e) => tracing::warn!(url = %url, attempt, error = %e, "callback failed"),
        }
        if attempt < policy.retries {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
    metrics::counter!(crate::metrics::CALLBACKS, "outcome" => "failed").increment(1);
    false
}

async fn post_once(
    url: &Url,
    body: &serde_json::Value,
    policy: &CallbackPolicy,
) -> Result<(), String> {
    let addrs = resolve_allowed(url, policy.allow_private).await?;
    let host = url.host_str().unwrap_or_default().to_string();
    let client = reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let res = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", res.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("http://example.com/hook").is_ok());
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let url = parse_url("http://127.0.0.1:9/x").unwrap();
        assert!(resolve_allowed(&url, false)
            .await
            .unwrap_err()
            .contains("127.0.0.1"));
        assert!(resolve_allowed(&url, true).await.is_ok());
        let url = parse_url("http://localhost:9/x").unwrap();
        assert!(resolve_allowed(&url, false).await.is_err());
    }
}
