//! Which limit a program that ended on its own ran into, judged from the
//! cgroup's counters.

use super::{ExecLimits, LimitHit};
use crate::conn::Exit;

/// Decides which limit a program that ended on its own ran into, if any.
pub(super) fn judge_limits(
    exit: &Exit,
    cpu_ms: u64,
    lim: ExecLimits,
    before: &crate::cgroup::Usage,
    after: &crate::cgroup::Usage,
) -> Option<LimitHit> {
    let failed = exit.code != Some(0) || exit.signal.is_some();
    if after.oom_kills > before.oom_kills {
        return Some(LimitHit::Memory);
    }
    if exit.signal == Some(libc::SIGXCPU)
        || cpu_ms > lim.cpu_ms
        || (exit.signal == Some(libc::SIGKILL) && cpu_ms + 50 >= lim.cpu_ms)
    {
        return Some(LimitHit::CpuTime);
    }
    // A program that failed after hitting the memory limit (an allocation
    // that returned NULL, MemoryError, bad_alloc) ran out of memory.
    if failed && after.limit_hits > before.limit_hits.min(after.limit_hits) && after.limit_hits > 0
    {
        return Some(LimitHit::Memory);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Usage;
    use std::time::Instant;

    fn exit(code: Option<i32>, signal: Option<i32>) -> Exit {
        Exit {
            code,
            signal,
            at: Instant::now(),
        }
    }

    #[test]
    fn limits_are_judged_from_counters() {
        let lim = ExecLimits {
            cpu_ms: 1000,
            ..Default::default()
        };
        let u = Usage::default();
        let oom = Usage { oom_kills: 1, ..u };
        assert_eq!(
            judge_limits(&exit(None, Some(9)), 10, lim, &u, &oom),
            Some(LimitHit::Memory)
        );
        assert_eq!(
            judge_limits(&exit(None, Some(libc::SIGXCPU)), 1000, lim, &u, &u),
            Some(LimitHit::CpuTime)
        );
        assert_eq!(
            judge_limits(&exit(Some(0), None), 1500, lim, &u, &u),
            Some(LimitHit::CpuTime)
        );
        let hits = Usage { limit_hits: 3, ..u };
        assert_eq!(
            judge_limits(&exit(Some(1), None), 10, lim, &u, &hits),
            Some(LimitHit::Memory)
        );
        assert_eq!(judge_limits(&exit(Some(0), None), 10, lim, &u, &hits), None);
        assert_eq!(judge_limits(&exit(Some(1), None), 10, lim, &u, &u), None);
    }
}
