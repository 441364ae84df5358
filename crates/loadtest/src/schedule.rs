//! Arrival schedules of the open model.
//!
//! The stages define a piecewise-linear rate r(t); its integral Λ(t) is the
//! expected number of arrivals by time t. Arrival k happens where Λ reaches a
//! target: k − ½ for uniform spacing, a running sum of Exp(1) draws for Poisson
//! spacing (an inhomogeneous Poisson process by time change). Inverting Λ is
//! exact (a quadratic per stage), so ramps are followed precisely at any rate.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::scenario::{Spacing, Stage};

/// Iterator over scheduled arrival offsets from the start of a phase.
#[derive(Debug)]
pub struct Schedule {
    stages: Vec<Stage>,
    spacing: Spacing,
    rng: SmallRng,
    /// Λ of the next arrival.
    next_lambda: f64,
    stage: usize,
    stage_start_t: f64,
    stage_start_lambda: f64,
}

impl Schedule {
    pub fn new(stages: Vec<Stage>, spacing: Spacing, seed: u64) -> Self {
        let mut s = Schedule {
            stages,
            spacing,
            rng: SmallRng::seed_from_u64(seed),
            next_lambda: 0.0,
            stage: 0,
            stage_start_t: 0.0,
            stage_start_lambda: 0.0,
        };
        s.next_lambda = match spacing {
            Spacing::Uniform => 0.5,
            Spacing::Poisson => s.exp1(),
        };
        s
    }

    fn exp1(&mut self) -> f64 {
        let u: f64 = self.rng.gen::<f64>();
        -(1.0 - u).ln()
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let st = *self.stages.get(self.stage)?;
            let d = st.duration.as_secs_f64();
            let area = (st.from + st.to) / 2.0 * d;
            let x = self.next_lambda - self.stage_start_lambda;
            if x > area {
                self.stage += 1;
                self.stage_start_t += d;
                self.stage_start_lambda += area;
                continue;
            }
            // Solve a·τ + k·τ² = x with k = (b − a) / 2d, in the form that stays
            // stable when k → 0 or a → 0.
            let (a, k) = (st.from, (st.to - st.from) / (2.0 * d));
            let disc = (a * a + 4.0 * k * x).max(0.0);
            let denom = a + disc.sqrt();
            let tau = if denom > 0.0 { 2.0 * x / denom } else { 0.0 };
            let t = self.stage_start_t + tau.clamp(0.0, d);
            self.next_lambda += match self.spacing {
                Spacing::Uniform => 1.0,
                Spacing::Poisson => self.exp1(),
            };
            return Some(Duration::from_secs_f64(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: u64, from: f64, to: f64) -> Stage {
        Stage {
            duration: Duration::from_secs(secs),
            from,
            to,
        }
    }

    #[test]
    fn uniform_constant_rate_is_exact() {
        let v: Vec<Duration> = Schedule::new(
            vec![stage(60, 1000.0 / 60.0, 1000.0 / 60.0)],
            Spacing::Uniform,
            1,
        )
        .collect();
        assert_eq!(v.len(), 1000);
        let gap = v[11].as_secs_f64() - v[10].as_secs_f64();
        assert!((gap - 0.06).abs() < 1e-9, "{gap}");
    }

    #[test]
    fn ramp_counts_match_the_area() {
        // 0 -> 100 over 10 s then 100 -> 0 over 10 s: 1000 arrivals.
        let v: Vec<Duration> = Schedule::new(
            vec![stage(10, 0.0, 100.0), stage(10, 100.0, 0.0)],
            Spacing::Uniform,
            1,
        )
        .collect();
        assert!((v.len() as i64 - 1000).abs() <= 1, "{}", v.len());
        let first_half = v.iter().filter(|t| t.as_secs_f64() < 5.0).count();
        assert!((first_half as i64 - 125).abs() <= 1, "{first_half}");
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn poisson_rate_is_close() {
        let v: Vec<Duration> =
            Schedule::new(vec![stage(100, 100.0, 100.0)], Spacing::Poisson, 7).collect();
        assert!((v.len() as f64 - 10_000.0).abs() < 400.0, "{}", v.len());
    }
}
