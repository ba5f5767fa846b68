//! Latency samples and their percentiles (nearest rank), in microseconds.

use std::time::Duration;

/// The percentiles of one latency stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    /// How many samples were taken.
    pub samples: usize,
    /// Median, µs.
    pub p50: f64,
    /// 99th percentile, µs.
    pub p99: f64,
    /// 99.9th percentile, µs.
    pub p999: f64,
    /// The slowest sample, µs.
    pub max: f64,
}

impl Percentiles {
    /// Sorts `samples` and takes the nearest-rank percentiles; `None` without samples.
    pub fn of(samples: &mut [Duration]) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        // From whole nanoseconds, so whole microseconds stay exact.
        let micros = |d: Duration| d.as_nanos() as f64 / 1000.0;
        // Nearest rank: the smallest sample with at least q of all samples at or below it.
        // `q` in parts per 10 000, so the rank is exact integer arithmetic (0.999 × 1000 is
        // 999.0000000000001 in floating point).
        let rank = |q: usize| {
            let n = samples.len();
            let rank = (q * n).div_ceil(10_000);
            micros(samples[rank.clamp(1, n) - 1])
        };
        Some(Percentiles {
            samples: samples.len(),
            p50: rank(5_000),
            p99: rank(9_900),
            p999: rank(9_990),
            max: micros(samples[samples.len() - 1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let p = Percentiles::of(&mut samples).unwrap();
        assert_eq!(p.samples, 1000);
        assert_eq!(p.p50, 500.0);
        assert_eq!(p.p99, 990.0);
        assert_eq!(p.p999, 999.0);
        assert_eq!(p.max, 1000.0);

        let mut one = vec![Duration::from_micros(7)];
        let p = Percentiles::of(&mut one).unwrap();
        assert_eq!((p.p50, p.p99, p.p999, p.max), (7.0, 7.0, 7.0, 7.0));

        let mut ten: Vec<Duration> = (1..=10).map(Duration::from_micros).collect();
        let p = Percentiles::of(&mut ten).unwrap();
        assert_eq!((p.p50, p.p99, p.p999), (5.0, 10.0, 10.0));

        assert!(Percentiles::of(&mut []).is_none());
    }
}
