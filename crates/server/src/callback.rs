//! `callback_url`: checked when submitted and again before each delivery (the
//! name is resolved and every address must be public unless the config allows
//! private ones, and the request goes to exactly the addresses checked, so DNS
//! rebinding cannot redirect it).
//!
//! Deliveries are durable: storing a final result marks its callback
//! `pending` in the store, and [`dispatch`] (on every node) claims due
//! callbacks, sends each once and records the outcome: `delivered`, a retry
//! at a later time (exponential backoff), or `failed` after the last retry. A
//! restart, or a node's death, loses no pending delivery or retry; the outcome
//! is on the submission (`callback`) and in the log.
//!
//! Each request is signed: `Kiln-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<body>">` with the deployment's secret, and carries
//! `User-Agent: kiln/<version>` and `Kiln-Delivery: <submission id>`. A
//! receiver recomputes the HMAC over the raw body and refuses stale `t`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

/// Callback delivery settings.
#[derive(Debug, Clone)]
pub struct CallbackPolicy {
    pub allow_private: bool,
    pub timeout: Duration,
    pub retries: u32,
    /// The HMAC key of `Kiln-Signature`.
    pub secret: Vec<u8>,
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

/// The signing secret: `--callback-secret`; else, for `kiln serve`, one kept
/// in `<data-dir>/callback-secret` (made on first start, mode 0600, so it
/// survives restarts); else (a `kiln worker` without one) a random one for
/// this process, with a warning, since the nodes of a deployment must share it.
pub fn secret(config: &crate::config::Config) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    if let Some(s) = config
        .jobs
        .callback_secret
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        return Ok(s.as_bytes().to_vec());
    }
    let fresh = || {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        format!("{}{}", a.simple(), b.simple())
    };
    if !config.serves_api {
        tracing::warn!("no --callback-secret: this worker signs callbacks with a key of its own; set the same secret on every node");
        return Ok(fresh().into_bytes());
    }
    let path = config.api.data_dir.join("callback-secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(&config.api.data_dir)
        .with_context(|| format!("creating {}", config.api.data_dir.display()))?;
    let s = fresh();
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(s.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(s.into_bytes())
}

/// The value of `Kiln-Signature` for `body` sent at `t` (unix seconds).
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The delay before retry number `attempt` (1 = the first retry).
fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(60_000))
}

/// Sends one request (`method` with the JSON `body`) to `url`; the answer's
/// status, or why there was none.
pub async fn send_once(
    url: &Url,
    method: reqwest::Method,
    id: &str,
    body: Vec<u8>,
    policy: &CallbackPolicy,
) -> Result<u16, String> {
    let addrs = resolve_allowed(url, policy.allow_private).await?;
    let host = url.host_str().unwrap_or_default().to_string();
    let client = reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .no_proxy()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let res = client
        .request(method, url.clone())
        .header("content-type", "application/json")
        .header("kiln-signature", signature(&policy.secret, t, &body))
        .header("kiln-delivery", id)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

/// Most deliveries in flight on one node.
const IN_FLIGHT: usize = 16;

/// The delivery loop of one node: claims due callbacks (woken by finishes,
/// else every half second), sends each, records the outcome. Runs until
/// the node stops; a delivery cut short is claimed again after its hold.
pub async fn dispatch(app: std::sync::Arc<crate::app::AppState>) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut finished = app.finished.subscribe();
    let hold = (app.callbacks.timeout * 2 + Duration::from_secs(5)).as_millis() as i64;
    loop {
        let free = slots.available_permits() as u32;
        if free > 0 {
            match app.store.claim_callbacks(crate::now_ms(), hold, free).await {
                Ok(jobs) => {
                    for job in jobs {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let app = app.clone();
                        tokio::spawn(async move {
                            deliver(&app, job).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::debug!(error = %e, "callbacks: store unavailable"),
            }
        }
        tokio::select! {
            _ = finished.recv() => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// One delivery attempt of a claimed callback, and its outcome recorded.
async fn deliver(app: &crate::app::AppState, job: crate::store::CallbackJob) {
    use crate::store::{CallbackKind, CallbackOutcome};
    let rec = match app.store.get(&job.id).await {
        Ok(Some(rec)) => rec,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(id = %job.id, error = %e, "callback: store unavailable; retried after the hold");
            return;
        }
    };
    let (method, body) = match job.kind {
        CallbackKind::Kiln => (
            reqwest::Method::POST,
            serde_json::to_vec(&crate::model::SubmissionView::new(&rec)),
        ),
        CallbackKind::Judge0 => (
            reqwest::Method::PUT,
            serde_json::to_vec(&crate::judge0::callback_body(
                &rec,
                &app.executor.languages(),
            )),
        ),
    };
    let sent = match (Url::parse(&job.url), body) {
        (Ok(url), Ok(body)) => send_once(&url, method, &job.id, body, &app.callbacks)
            .await
            .and_then(|status| match job.kind {
                // Kiln's callbacks want a 2xx; Judge0 counts any answer as delivered.
                CallbackKind::Kiln if !(200..300).contains(&status) => {
                    Err(format!("answered {status}"))
                }
                _ => Ok(()),
            }),
        (Err(e), _) => Err(format!("bad URL: {e}")),
        (_, Err(e)) => Err(format!("result not serializable: {e}")),
    };
    let attempt = job.attempts + 1;
    let outcome = match sent {
        Ok(()) => {
            metrics::counter!(crate::metrics::CALLBACKS, "outcome" => "delivered").increment(1);
            tracing::info!(id = %job.id, url = %job.url, attempt, "callback delivered");
            CallbackOutcome::Delivered
        }
        Err(error) if attempt > app.callbacks.retries => {
            metrics::counter!(crate::metrics::CALLBACKS, "outcome" => "failed").increment(1);
            tracing::warn!(id = %job.id, url = %job.url, attempt, %error, "callback failed for the last time; giving up");
            CallbackOutcome::Failed { error }
        }
        Err(error) => {
            tracing::warn!(id = %job.id, url = %job.url, attempt, %error, "callback failed; will retry");
            let next_at_ms = crate::now_ms() + backoff(attempt).as_millis() as i64;
            CallbackOutcome::Retry { error, next_at_ms }
        }
    };
    if let Err(e) = app
        .store
        .callback_done(&job.id, &outcome, crate::now_ms())
        .await
    {
        tracing::warn!(id = %job.id, error = %e, "recording a callback's outcome failed; it is retried after the hold");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Reference value: python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"s3cret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }

    #[test]
    fn retries_back_off_exponentially_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(30), Duration::from_secs(60));
    }

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
