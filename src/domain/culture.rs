//! Culture instruments (domain.md §4): the psychological-safety pulse (Edmondson 1999), minimum
//! group sizes with complementary suppression, and fairness measures for recognition (Gini
//! coefficient, pair concentration, the four-fifths screening rule).

use super::text::Invalid;

/// The seven items of Edmondson's (1999) team psychological safety scale, in our words close to
/// the published ones, with whether each is reverse-scored.
pub const PULSE_ITEMS: [(&str, bool); 7] = [
    (
        "If you make a mistake on this team, it is often held against you.",
        true,
    ),
    (
        "Members of this team are able to bring up problems and tough issues.",
        false,
    ),
    (
        "People on this team sometimes reject others for being different.",
        true,
    ),
    ("It is safe to take a risk on this team.", false),
    (
        "It is difficult to ask other members of this team for help.",
        true,
    ),
    (
        "No one on this team would deliberately act in a way that undermines my efforts.",
        false,
    ),
    (
        "Working with members of this team, my unique skills and talents are valued and utilised.",
        false,
    ),
];

/// The answer scale's labels (1 = very inaccurate … 7 = very accurate).
pub const SCALE: [&str; 7] = [
    "very inaccurate",
    "mostly inaccurate",
    "somewhat inaccurate",
    "neither",
    "somewhat accurate",
    "mostly accurate",
    "very accurate",
];

/// Results show only from this many responses by default (Glint, Qualtrics, Culture Amp, Peakon
/// use 5); a team may choose another value, never below [`MIN_RESPONSES_FLOOR`].
pub const DEFAULT_MIN_RESPONSES: u32 = 5;
pub const MIN_RESPONSES_FLOOR: u32 = 3;
/// Free-text comments show only from this many responses.
pub const MIN_COMMENTS: u32 = 10;

/// One respondent's seven answers on the 1–7 scale, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulseAnswers(pub [u8; 7]);

impl PulseAnswers {
    pub fn parse(raw: &[u8]) -> Result<Self, (usize, Invalid)> {
        if raw.len() != 7 {
            return Err((0, Invalid::new("all seven items must be answered")));
        }
        let mut answers = [0u8; 7];
        for (i, value) in raw.iter().enumerate() {
            if !(1..=7).contains(value) {
                return Err((i, Invalid::new("must be from 1 to 7")));
            }
            answers[i] = *value;
        }
        Ok(Self(answers))
    }

    /// The seven scored values: reverse-scored items (1, 3 and 5) become 8 − answer.
    pub fn scored(&self) -> [u8; 7] {
        let mut scored = self.0;
        for (i, (_, reverse)) in PULSE_ITEMS.iter().enumerate() {
            if *reverse {
                scored[i] = 8 - scored[i];
            }
        }
        scored
    }

    /// The sum of the scored values (7–49); the respondent's score is this divided by 7.
    pub fn scored_total(&self) -> u32 {
        self.scored().iter().map(|v| u32::from(*v)).sum()
    }
}

/// Aggregates of a round, computed only when there are enough responses.
#[derive(Debug, Clone, PartialEq)]
pub struct PulseResult {
    pub responses: usize,
    /// Mean of the respondents' means (Edmondson 1999), on the 1–7 scale.
    pub team_score: f64,
    /// Standard deviation of the respondents' means (population).
    pub spread: f64,
    /// For each item: how many chose 1 … 7 (as answered, before reverse scoring).
    pub distributions: [[u32; 7]; 7],
    /// For each item: the mean scored value.
    pub item_means: [f64; 7],
}

/// Aggregates `answers`, or `None` below `min_responses`.
pub fn pulse_result(answers: &[PulseAnswers], min_responses: u32) -> Option<PulseResult> {
    let n = answers.len();
    if n == 0 || n < min_responses as usize {
        return None;
    }
    let means: Vec<f64> = answers
        .iter()
        .map(|a| f64::from(a.scored_total()) / 7.0)
        .collect();
    let team_score = means.iter().sum::<f64>() / n as f64;
    let spread = (means.iter().map(|m| (m - team_score).powi(2)).sum::<f64>() / n as f64).sqrt();
    let mut distributions = [[0u32; 7]; 7];
    let mut item_sums = [0u32; 7];
    for a in answers {
        let scored = a.scored();
        for item in 0..7 {
            distributions[item][usize::from(a.0[item] - 1)] += 1;
            item_sums[item] += u32::from(scored[item]);
        }
    }
    let item_means = item_sums.map(|s| f64::from(s) / n as f64);
    Some(PulseResult {
        responses: n,
        team_score,
        spread,
        distributions,
        item_means,
    })
}

/// Which groups of a breakdown may be shown. Groups below `min` are hidden; and while exactly
/// one group is hidden, or the hidden groups together hold fewer than `min`, the next-smallest
/// shown group is hidden too — otherwise the hidden figures could be worked out by subtracting
/// the shown groups from the total (complementary suppression, as Viva Glint does).
pub fn suppress(sizes: &[usize], min: usize) -> Vec<bool> {
    let mut shown: Vec<bool> = sizes.iter().map(|n| *n >= min).collect();
    loop {
        let hidden: Vec<usize> = (0..sizes.len()).filter(|i| !shown[*i]).collect();
        let hidden_sum: usize = hidden.iter().map(|i| sizes[*i]).sum();
        if hidden.is_empty() || (hidden.len() > 1 && hidden_sum >= min) {
            return shown;
        }
        let next = (0..sizes.len())
            .filter(|i| shown[*i])
            .min_by_key(|i| sizes[*i]);
        match next {
            Some(i) => shown[i] = false,
            None => return shown,
        }
    }
}

/// The Gini coefficient of non-negative counts: 0 when everyone receives the same, approaching 1
/// when one person receives everything. Computed exactly on integers, then divided once.
pub fn gini(counts: &[u64]) -> f64 {
    let n = counts.len() as u128;
    let total: u128 = counts.iter().map(|c| u128::from(*c)).sum();
    if n == 0 || total == 0 {
        return 0.0;
    }
    let mut sorted: Vec<u128> = counts.iter().map(|c| u128::from(*c)).collect();
    sorted.sort_unstable();
    // G = (2 Σ i·x_i) / (n Σ x) − (n + 1) / n, with i from 1 on ascending values.
    let weighted: u128 = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (i as u128 + 1) * x)
        .sum();
    let numerator = 2 * weighted as i128 - (n as i128 + 1) * total as i128;
    numerator as f64 / (n * total) as f64
}

/// The share of all recognitions that went through the `top` most frequent giver→receiver pairs.
pub fn pair_concentration(pair_counts: &[u64], top: usize) -> f64 {
    let total: u64 = pair_counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let mut sorted = pair_counts.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.iter().take(top).sum::<u64>() as f64 / total as f64
}

/// The four-fifths screening rule (29 CFR 1607.4(D)), as a flag: a group whose rate is below
/// four fifths of the best-treated group's rate. Rates are received per head; integer
/// cross-multiplication avoids rounding: received_a · heads_b · 5 < 4 · received_b · heads_a.
pub fn below_four_fifths(received: u64, heads: u64, best_received: u64, best_heads: u64) -> bool {
    if heads == 0 || best_heads == 0 {
        return false;
    }
    u128::from(received) * u128::from(best_heads) * 5
        < 4 * u128::from(best_received) * u128::from(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(raw: [u8; 7]) -> PulseAnswers {
        PulseAnswers::parse(&raw).expect("valid")
    }

    #[test]
    fn reverse_scoring_follows_edmondson() {
        // Items 1, 3 and 5 are reverse-scored: 8 − answer.
        let a = answers([1, 7, 1, 7, 1, 7, 7]);
        assert_eq!(a.scored(), [7, 7, 7, 7, 7, 7, 7]);
        assert_eq!(a.scored_total(), 49);
        let b = answers([7, 1, 7, 1, 7, 1, 1]);
        assert_eq!(b.scored_total(), 7);
        assert!(PulseAnswers::parse(&[1, 2, 3]).is_err());
        assert_eq!(
            PulseAnswers::parse(&[1, 2, 3, 4, 5, 6, 8]).map_err(|e| e.0),
            Err(6)
        );
    }

    #[test]
    fn the_team_score_is_the_mean_of_respondents_means() {
        // Hand-computed: respondent totals 49, 7, 28, 35, 21 → means 7, 1, 4, 5, 3 → team 4.0.
        let round = [
            answers([1, 7, 1, 7, 1, 7, 7]),
            answers([7, 1, 7, 1, 7, 1, 1]),
            answers([4, 4, 4, 4, 4, 4, 4]),
            answers([3, 5, 3, 5, 3, 5, 5]),
            answers([5, 3, 5, 3, 5, 3, 3]),
        ];
        let result = pulse_result(&round, 5).expect("enough");
        assert!((result.team_score - 4.0).abs() < 1e-9);
        // Population SD of 7, 1, 4, 5, 3 around 4: sqrt((9+9+0+1+1)/5) = 2.
        assert!((result.spread - 2.0).abs() < 1e-9);
        assert_eq!(result.distributions[0], [1, 0, 1, 1, 1, 0, 1]);
        assert!((result.item_means[0] - 4.0).abs() < 1e-9);
        assert!(
            pulse_result(&round[..4], 5).is_none(),
            "4 responses show nothing"
        );
        assert!(pulse_result(&round[..3], 3).is_some());
    }

    #[test]
    fn gini_on_known_distributions() {
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[0, 0, 0]), 0.0);
        // One of four receives everything: (n − 1) / n = 0.75.
        assert!((gini(&[0, 0, 0, 10]) - 0.75).abs() < 1e-12);
        // 1, 2, 3, 4: G = 2(1+4+9+16)/(4·10) − 5/4 = 1.5 − 1.25 = 0.25.
        assert!((gini(&[4, 1, 3, 2]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn complementary_suppression_hides_what_subtraction_would_reveal() {
        assert_eq!(suppress(&[10, 8, 6], 5), vec![true, true, true]);
        // One small group would be derivable from the total: hide the next smallest too.
        assert_eq!(suppress(&[10, 8, 2], 5), vec![true, false, false]);
        // Two hidden groups holding fewer than the minimum together: hide another.
        assert_eq!(suppress(&[10, 8, 1, 1], 5), vec![true, false, false, false]);
        assert_eq!(suppress(&[10, 3, 3], 5), vec![true, false, false]);
        assert_eq!(suppress(&[2, 2], 5), vec![false, false]);
    }

    #[test]
    fn concentration_and_four_fifths() {
        assert!((pair_concentration(&[6, 2, 1, 1], 1) - 0.6).abs() < 1e-12);
        assert!((pair_concentration(&[6, 2, 1, 1], 3) - 0.9).abs() < 1e-12);
        // 3 per head against 5 per head: 0.6 < 0.8 → flagged; 4 per head: 0.8 is not below.
        assert!(below_four_fifths(3, 1, 5, 1));
        assert!(!below_four_fifths(4, 1, 5, 1));
        assert!(below_four_fifths(7, 3, 10, 3));
    }
}
