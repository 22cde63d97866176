//! Loop-health figures: the time ranges a dashboard offers and the median it reports.

use super::text::Invalid;

/// How far back a dashboard looks (loops logged in the range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthRange {
    Days30,
    #[default]
    Days90,
    Days365,
    All,
}

impl HealthRange {
    pub const ALL: [HealthRange; 4] = [
        HealthRange::Days30,
        HealthRange::Days90,
        HealthRange::Days365,
        HealthRange::All,
    ];

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "30" => Ok(HealthRange::Days30),
            "90" => Ok(HealthRange::Days90),
            "365" => Ok(HealthRange::Days365),
            "all" => Ok(HealthRange::All),
            _ => Err(Invalid::new("must be one of: 30, 90, 365, all")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthRange::Days30 => "30",
            HealthRange::Days90 => "90",
            HealthRange::Days365 => "365",
            HealthRange::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            HealthRange::Days30 => "Last 30 days",
            HealthRange::Days90 => "Last 90 days",
            HealthRange::Days365 => "Last year",
            HealthRange::All => "All time",
        }
    }

    /// The number of days, or `None` for all time.
    pub fn days(self) -> Option<i64> {
        match self {
            HealthRange::Days30 => Some(30),
            HealthRange::Days90 => Some(90),
            HealthRange::Days365 => Some(365),
            HealthRange::All => None,
        }
    }
}

/// A median read off durations counted in buckets: the true median lies in
/// `[low, high)` seconds (`high` is `None` when it falls in the last, open-ended bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketMedian {
    pub low: i64,
    pub high: Option<i64>,
}

impl BucketMedian {
    /// The middle of the interval, the single figure a dashboard shows (the low end when the
    /// interval is open-ended).
    pub fn estimate(&self) -> i64 {
        match self.high {
            Some(high) => self.low + (high - self.low) / 2,
            None => self.low,
        }
    }

    /// How far the true median may be from [`Self::estimate`], rounded up; `None` when the
    /// interval is open-ended.
    pub fn within(&self) -> Option<i64> {
        self.high.map(|high| high - self.estimate())
    }

    /// "about 2 d 1 h (to within 31 min)", or "3 years or more": a reader must see that a
    /// bucketed median is approximate, and how approximate.
    pub fn describe(&self) -> String {
        match self.within() {
            Some(0) => describe_seconds(self.estimate()),
            Some(within) => format!(
                "about {} (to within {})",
                describe_seconds(self.estimate()),
                describe_seconds(within)
            ),
            None => format!("{} or more", describe_seconds(self.low)),
        }
    }
}

/// The lower bound of the last, open-ended bucket: three years of 365 days.
pub const LAST_BUCKET: i64 = 3 * 365 * 86_400;

/// The width of the bucket starting at `lower` (migrations/*/0011_health_rollups.sql: every
/// minute below an hour, every 15 minutes below a day, every 2 hours below 14 days, every day
/// below 90 days, every week below 3 years, then one bucket): `None` for the last one. The
/// bucket of negative durations (noticed before it happened) is read as zero, width zero.
pub fn bucket_width(lower: i64) -> Option<i64> {
    const WEEK: i64 = 7 * 86_400;
    const WEEKS_FROM: i64 = 90 * 86_400;
    let width = match lower {
        l if l < 0 => 0,
        l if l < 3600 => 60,
        l if l < 86_400 => 900,
        l if l < 14 * 86_400 => 7200,
        l if l < WEEKS_FROM => 86_400,
        l if l < LAST_BUCKET => WEEK.min(LAST_BUCKET - l),
        _ => return None,
    };
    Some(width)
}

/// The median of durations counted in buckets (`(lower bound in seconds, count)`, any order),
/// as the interval the exact median must lie in: the middle value's bucket for an odd count;
/// for an even count the mean of the two middle values, so the mean of their buckets' bounds.
/// The dashboards keep counts per bucket instead of every duration
/// (migrations/*/0011_health_rollups.sql), so the median is exact only to its buckets' width.
pub fn median_of_buckets(buckets: &[(i64, i64)]) -> Option<BucketMedian> {
    let mut sorted: Vec<(i64, i64)> = buckets.iter().copied().filter(|(_, n)| *n > 0).collect();
    sorted.sort_unstable();
    let total: i64 = sorted.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // The 0-based ranks of the middle value(s): one for an odd count, two for an even one.
    let ranks = [(total - 1) / 2, total / 2];
    let mut found: [Option<i64>; 2] = [None, None];
    let mut seen = 0;
    for (lower, count) in sorted {
        let next = seen + count;
        for (slot, rank) in found.iter_mut().zip(ranks) {
            if slot.is_none() && rank < next {
                *slot = Some(lower);
            }
        }
        seen = next;
    }
    let (a, b) = (found[0]?, found[1]?);
    let (low_a, low_b) = (a.max(0), b.max(0));
    let high = bucket_width(a)
        .zip(bucket_width(b))
        .map(|(wa, wb)| (low_a + wa + low_b + wb + 1) / 2);
    Some(BucketMedian {
        low: (low_a + low_b) / 2,
        high,
    })
}

/// "3 d 4 h", "3 d", "2 h 5 min", "2 h", "40 min" or "30 s": a duration as people read it on a dashboard.
pub fn describe_seconds(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(low: i64, high: i64) -> Option<BucketMedian> {
        Some(BucketMedian {
            low,
            high: Some(high),
        })
    }

    #[test]
    fn median_of_buckets_is_the_middle_bucket_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median_of_buckets(&[]), None);
        assert_eq!(median_of_buckets(&[(60, 0)]), None);
        assert_eq!(
            median_of_buckets(&[(10_800, 1), (3600, 1), (7200, 1)]),
            interval(7200, 8100)
        );
        assert_eq!(median_of_buckets(&[(60, 2), (120, 2)]), interval(90, 150));
        assert_eq!(
            median_of_buckets(&[(60, 1), (120, 5), (180, 1)]),
            interval(120, 180)
        );
        assert_eq!(
            median_of_buckets(&[(-(1 << 62), 3)]),
            Some(BucketMedian {
                low: 0,
                high: Some(0)
            })
        );
        // Issue 19: 0 s and 4 d 3 h are not a median of 0 s.
        let two = median_of_buckets(&[(0, 1), (352_800, 1)]).expect("a median");
        assert_eq!(Some(two), interval(176_400, 180_030));
        assert!(two.low <= 178_200 && 178_200 < 180_030);
        assert_eq!(two.describe(), "about 2 d 1 h (to within 30 min)");
        let open = median_of_buckets(&[(LAST_BUCKET, 1)]).expect("a median");
        assert_eq!(open.high, None);
        assert_eq!(open.describe(), "1095 d or more");
    }

    #[test]
    fn bucket_widths_follow_the_migration() {
        let sql = include_str!("../../migrations/sqlite/0011_health_rollups.sql");
        let list = sql
            .split("INSERT INTO duration_buckets (lower_seconds) VALUES")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("the bucket list");
        let bounds: Vec<i64> = list
            .split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("a bound"))
            .collect();
        assert!(bounds.len() > 400, "{}", bounds.len());
        for pair in bounds.windows(2).skip(1) {
            assert_eq!(bucket_width(pair[0]), Some(pair[1] - pair[0]), "{pair:?}");
        }
        assert_eq!(bounds.last(), Some(&LAST_BUCKET));
        assert_eq!(bucket_width(LAST_BUCKET), None);
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(HealthRange::parse("365"), Ok(HealthRange::Days365));
        assert!(HealthRange::parse("7").is_err());
        assert_eq!(describe_seconds(9000), "2 h 30 min");
        assert_eq!(describe_seconds(90_000), "1 d 1 h");
    }
}
