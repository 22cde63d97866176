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

/// The median of `values` (the lower middle value for an even count, so it is always a value
/// that occurred); `None` when there are none. Sorts in place.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let middle = (values.len() - 1) / 2;
    let (_, value, _) = values.select_nth_unstable(middle);
    Some(*value)
}

/// The lower middle of durations counted in buckets (`(lower bound in seconds, count)`, any
/// order): the lower bound of the bucket that holds it, never below zero. The dashboards keep
/// counts per bucket instead of every duration (migrations/*/0011_health_rollups.sql), so a
/// median is exact to its bucket's width: a minute below an hour, 15 minutes below a day.
pub fn median_of_buckets(buckets: &[(i64, i64)]) -> Option<i64> {
    let mut sorted: Vec<(i64, i64)> = buckets.iter().copied().filter(|(_, n)| *n > 0).collect();
    sorted.sort_unstable();
    let total: i64 = sorted.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let middle = (total - 1) / 2;
    let mut seen = 0;
    for (lower, count) in sorted {
        seen += count;
        if seen > middle {
            return Some(lower.max(0));
        }
    }
    None
}

/// "3 d 4 h", "2 h 5 min", "40 min" or "30 s": a duration as people read it on a dashboard.
pub fn describe_seconds(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_lower_middle() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn median_of_buckets_takes_the_lower_middle_bucket() {
        assert_eq!(median_of_buckets(&[]), None);
        assert_eq!(median_of_buckets(&[(60, 0)]), None);
        assert_eq!(
            median_of_buckets(&[(10_800, 1), (3600, 1), (7200, 1)]),
            Some(7200)
        );
        assert_eq!(median_of_buckets(&[(60, 2), (120, 2)]), Some(60));
        assert_eq!(median_of_buckets(&[(60, 1), (120, 5), (180, 1)]), Some(120));
        assert_eq!(median_of_buckets(&[(-(1 << 62), 3)]), Some(0));
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(HealthRange::parse("365"), Ok(HealthRange::Days365));
        assert!(HealthRange::parse("7").is_err());
        assert_eq!(describe_seconds(9000), "2 h 30 min");
        assert_eq!(describe_seconds(90_000), "1 d 1 h");
    }
}
