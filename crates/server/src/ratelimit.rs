//! Token buckets: one per API key, and with keys off one per client IP
//! (loopback exempt, so local tools and same-machine load tests are not
//! throttled). Every answer of a limited caller carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (IETF draft
//! `ratelimit-headers`); a refusal is 429 with `Retry-After` too.
//!
//! The bucket map is bounded: past [`MAX_BUCKETS`] callers, buckets that have
//! refilled (idle callers) are dropped first; if every bucket is busy, a new
//! caller goes unlimited rather than evicting one that is being limited (a
//! flood of fresh addresses cannot reset an abuser's bucket).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};

use crate::auth::Caller;

/// Most callers tracked at once.
pub const MAX_BUCKETS: usize = 65_536;

/// A rate: tokens per second and the bucket's size (0 per second = unlimited).
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: u32,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    rate: Rate,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let burst = f64::from(self.rate.burst.max(1));
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate.per_sec)
            .min(burst);
        self.at = now;
    }

    fn quota(&self) -> Quota {
        let burst = self.rate.burst.max(1);
        let missing = f64::from(burst) - self.tokens;
        Quota {
            limit: burst,
            remaining: self.tokens.max(0.0).floor() as u32,
            reset_secs: (missing / self.rate.per_sec).ceil().max(0.0) as u64,
        }
    }
}

/// What a limited caller has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

impl Quota {
    /// The `RateLimit-*` headers of this quota.
    pub fn write(&self, h: &mut HeaderMap) {
        for (name, v) in [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(name, v);
            }
        }
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Not limited (no rate, loopback, or the map is full of busy callers).
    Free,
    Admitted(Quota),
    /// Refused: retry after this many seconds.
    Refused(Quota, u64),
}

pub struct RateLimiter {
    per_key: Rate,
    per_ip: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_key: Rate, per_ip: Rate) -> Self {
        RateLimiter {
            per_key,
            per_ip,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `caller` (its key's bucket; with keys off, its
    /// address's, unless that is loopback or unknown).
    pub fn admit(&self, caller: &Caller, peer: Option<IpAddr>) -> Admission {
        let (name, rate) = match (&caller.key, peer) {
            (Some(key), _) => (key.clone(), self.per_key),
            (None, Some(ip)) if !ip.is_loopback() => {
                (format!("ip:{}", client_net(ip)), self.per_ip)
            }
            _ => return Admission::Free,
        };
        if rate.per_sec <= 0.0 {
            return Admission::Free;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&name) && buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.refill(now);
                b.tokens < f64::from(b.rate.burst.max(1))
            });
            if buckets.len() >= MAX_BUCKETS {
                tracing::warn!(
                    callers = buckets.len(),
                    "rate limiter full of busy callers; admitting a new one unlimited"
                );
                return Admission::Free;
            }
        }
        let b = buckets.entry(name).or_insert(Bucket {
            tokens: f64::from(rate.burst.max(1)),
            at: now,
            rate,
        });
        b.refill(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Admission::Admitted(b.quota())
        } else {
            let wait = ((1.0 - b.tokens) / rate.per_sec).ceil().max(1.0) as u64;
            Admission::Refused(b.quota(), wait)
        }
    }
}

/// The unit an address is limited as: itself for IPv4, its /64 for IPv6
/// (one subscriber's allocation: a host has billions of addresses in it).
fn client_net(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Caller {
        Caller {
            key: Some(k.into()),
            admin: false,
        }
    }

    const SLOW: Rate = Rate {
        per_sec: 1.0,
        burst: 2,
    };

    #[test]
    fn a_key_bucket_refills_and_refuses_with_its_quota() {
        let l = RateLimiter::new(SLOW, SLOW);
        let Admission::Admitted(q) = l.admit(&key("a"), None) else {
            panic!()
        };
        assert_eq!((q.limit, q.remaining), (2, 1));
        assert!(matches!(l.admit(&key("a"), None), Admission::Admitted(_)));
        let Admission::Refused(q, wait) = l.admit(&key("a"), None) else {
            panic!()
        };
        assert_eq!((q.remaining, wait), (0, 1));
        assert!(q.reset_secs >= 1);
        assert!(matches!(l.admit(&key("b"), None), Admission::Admitted(_)));
    }

    #[test]
    fn without_keys_each_address_has_a_bucket_and_loopback_none() {
        let l = RateLimiter::new(SLOW, SLOW);
        let anon = Caller::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..2 {
            assert!(matches!(l.admit(&anon, Some(a)), Admission::Admitted(_)));
        }
        assert!(matches!(l.admit(&anon, Some(a)), Admission::Refused(..)));
        assert!(matches!(l.admit(&anon, Some(b)), Admission::Admitted(_)));
        assert!(matches!(l.admit(&anon, Some(b)), Admission::Admitted(_)));
        let same_64: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        assert!(
            matches!(l.admit(&anon, Some(same_64)), Admission::Refused(..)),
            "one /64 is one client"
        );
        for _ in 0..10 {
            assert_eq!(
                l.admit(&anon, Some("127.0.0.1".parse().unwrap())),
                Admission::Free
            );
            assert_eq!(
                l.admit(&anon, Some("::1".parse().unwrap())),
                Admission::Free
            );
        }
        let off = RateLimiter::new(
            SLOW,
            Rate {
                per_sec: 0.0,
                burst: 1,
            },
        );
        for _ in 0..10 {
            assert_eq!(off.admit(&anon, Some(a)), Admission::Free);
        }
    }

    #[test]
    fn a_flood_of_new_addresses_does_not_reset_a_limited_one() {
        // Refilled far slower than the flood takes on a loaded machine.
        let glacial = Rate {
            per_sec: 0.001,
            burst: 2,
        };
        let l = RateLimiter::new(glacial, glacial);
        let anon = Caller::default();
        let abuser: IpAddr = "198.51.100.1".parse().unwrap();
        while !matches!(l.admit(&anon, Some(abuser)), Admission::Refused(..)) {}
        for i in 0..(MAX_BUCKETS as u32 + 10) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.admit(&anon, Some(ip));
        }
        assert!(matches!(
            l.admit(&anon, Some(abuser)),
            Admission::Refused(..)
        ));
        assert!(l.buckets.lock().unwrap().len() <= MAX_BUCKETS);
    }
}
