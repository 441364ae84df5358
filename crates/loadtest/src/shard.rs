//! `--shard I/N`: this process runs the I-th of N interleaved slices of the
//! schedule (I from 0, as Kubernetes' `JOB_COMPLETION_INDEX`). Every shard
//! computes the whole schedule and the whole sequence of program picks from
//! the same seed and keeps arrival `k` when `k % N == I` (closed model: user
//! `u` when `u % N == I`), so the union of the shards is exactly the
//! schedule of one whole run, with the same programs. `--start-at` is the
//! barrier: every shard waits for the same wall-clock time before its first
//! phase, so their seconds line up when `merge` adds them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// This process's slice of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole schedule.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether arrival (or user) `k` is this shard's.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

/// Parses `I/N` with 0 ≤ I < N.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || {
        format!("{s}: expected I/N with 0 <= I < N, e.g. 0/4 (I counts from 0, as JOB_COMPLETION_INDEX)")
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// Parses `--start-at`: RFC 3339 UTC (`2026-11-29T21:30:00Z`) or Unix seconds.
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    parse_rfc3339(s.trim()).ok_or_else(|| {
        format!("{s}: expected a UTC time like 2026-11-29T21:30:00Z, or Unix seconds")
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let num = |x: &str| x.parse::<i64>().ok();
    let mut d = date.splitn(3, '-').map(num);
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let (h, mi) = (num(t.next()?)?, num(t.next()?)?);
    let sec: f64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || h > 23
        || mi > 59
        || !(0.0..61.0).contains(&sec)
    {
        return None;
    }
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_secs_f64(sec))
}

/// Waits until `at`; says how late it is when `at` has passed.
pub async fn wait_until(at: SystemTime) -> Option<Duration> {
    match at.duration_since(SystemTime::now()) {
        Ok(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Err(e) => Some(e.duration()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_schedule() {
        let shards: Vec<Shard> = (0..3)
            .map(|i| parse_shard(&format!("{i}/3")).unwrap())
            .collect();
        for k in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
        }
        assert!(parse_shard("3/3").is_err());
        assert!(parse_shard("0/0").is_err());
        assert!(parse_shard("1").is_err());
        assert!(Shard::WHOLE.owns(17));
    }

    #[test]
    fn start_times_parse() {
        let t = parse_start_at("2026-11-29T21:30:00Z").unwrap();
        assert_eq!(t, parse_start_at("1795987800").unwrap());
        assert!(parse_start_at("soon").is_err());
    }
}
