//! Small server-rendered SVG charts that read without colour: every bar carries its number as
//! text, a line chart its values where they fit, the chart has a title and a description for
//! screen readers, and each page puts the same numbers in a table beside it. Labels wrap onto
//! as many lines as they need instead of being cut, and a bar's label sits above it, so one
//! layout reads at 390 px and at 1280 px (the stylesheet scales the chart to its column, up to
//! a readable width). Colours, sizes and fonts come from `static/app.css` (`.chart-*`): no
//! inline style, which the content security policy refuses.
//!
//! Hand-written: the two shapes needed (bars and a line) are a few dozen lines. Of the crates
//! that draw charts on the server, charming runs Apache ECharts in an embedded JavaScript
//! engine, chartml-render reads YAML specifications and pulls in a rasteriser, and plotters'
//! SVG back end fixes colours and fonts on every element; none puts `role`, `<title>` and
//! `<desc>` on the chart or lets the stylesheet theme it.

use std::fmt::Write;

/// The width of every chart in SVG units; the stylesheet scales it.
const WIDTH: f64 = 400.0;
/// Height of one line of label text, for the 14-unit font of `.chart-label`.
const LINE: f64 = 18.0;
/// Characters of label per line: 14-unit system-ui text averages about 7.5 units a character.
const LABEL_CHARS: usize = 50;
/// At most this many values and dates written along a line chart; the table has them all.
const LINE_LABELS: usize = 6;

/// Escapes text for SVG/XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Breaks `text` into lines of at most `width` characters at spaces; a word longer than a line
/// is broken inside. Every character of the text is kept.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            let room = if used == 0 {
                width
            } else {
                width.saturating_sub(used + 1)
            };
            if word.len() <= room {
                if used > 0 {
                    current.push(' ');
                }
                current.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            let rest = word.split_off(width.max(1));
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

fn open(svg: &mut String, id: &str, title: &str, description: &str, height: f64) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        xml(title),
        xml(description)
    );
}

/// One bar: its label, its value and the text printed at its end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

/// Horizontal bars from `min` to `max` (e.g. the 1–7 scale), each under its wrapped label.
pub fn bars(id: &str, title: &str, description: &str, bars: &[Bar], min: f64, max: f64) -> String {
    let bar_height = 16.0;
    let gap = 12.0;
    // Room at the bar's end for its number.
    let plot_width = WIDTH - 64.0;
    let labels: Vec<Vec<String>> = bars.iter().map(|b| wrap(&b.label, LABEL_CHARS)).collect();
    let body: f64 = labels
        .iter()
        .map(|lines| lines.len() as f64 * LINE + bar_height + gap)
        .sum();
    let height = 8.0 + body + 24.0;
    let mut svg = String::new();
    open(&mut svg, id, title, description, height);
    let span = (max - min).max(f64::EPSILON);
    let mut y = 8.0;
    for (bar, lines) in bars.iter().zip(&labels) {
        for line in lines {
            y += LINE;
            let _ = write!(
                svg,
                r#"<text x="0" y="{:.1}" class="chart-label">{}</text>"#,
                y - 4.0,
                xml(line)
            );
        }
        let length = ((bar.value - min) / span).clamp(0.0, 1.0) * plot_width;
        let _ = write!(
            svg,
            r#"<rect x="0" y="{y:.1}" width="{length:.1}" height="{bar_height}" class="chart-bar"/><text x="{:.1}" y="{:.1}" class="chart-value">{}</text>"#,
            length + 6.0,
            y + bar_height - 3.0,
            xml(&bar.shown)
        );
        y += bar_height + gap;
    }
    let _ = write!(
        svg,
        r#"<line x1="0" y1="{y:.1}" x2="{plot_width}" y2="{y:.1}" class="chart-axis"/><text x="0" y="{:.1}" class="chart-tick">{min}</text><text x="{plot_width}" y="{:.1}" text-anchor="end" class="chart-tick">{max}</text></svg>"#,
        y + 16.0,
        y + 16.0,
    );
    svg
}

/// Which of `n` points get their value and label written: at most [`LINE_LABELS`], evenly
/// spaced, always the first and the last.
fn labelled(n: usize) -> Vec<bool> {
    if n <= LINE_LABELS {
        return vec![true; n];
    }
    let step = n.div_ceil(LINE_LABELS - 1);
    (0..n).map(|i| i % step == 0 || i == n - 1).collect()
}

/// A line through points from left to right, each marked; values and labels where they fit.
pub fn line(
    id: &str,
    title: &str,
    description: &str,
    points: &[(String, f64)],
    min: f64,
    max: f64,
) -> String {
    let height = 240.0;
    let (left, right, top, bottom) = (28.0, 12.0, 24.0, 40.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let span = (max - min).max(f64::EPSILON);
    let x = |i: usize| {
        if points.len() <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: f64| top + plot_h * (1.0 - ((v - min) / span).clamp(0.0, 1.0));
    let mut svg = String::new();
    open(&mut svg, id, title, description, height);
    for tick in [min, (min + max) / 2.0, max] {
        let _ = write!(
            svg,
            r#"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" class="chart-grid"/><text x="{2}" y="{3:.1}" text-anchor="end" class="chart-tick">{tick}</text>"#,
            y(tick),
            WIDTH - right,
            left - 6.0,
            y(tick) + 4.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    if points.len() > 1 {
        let _ = write!(
            svg,
            r#"<polyline points="{}" class="chart-line"/>"#,
            path.join(" ")
        );
    }
    let shown = labelled(points.len());
    let last = points.len().saturating_sub(1);
    for (i, (label, value)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4.5" class="chart-point"/>"#,
            x(i),
            y(*value),
        );
        if !shown[i] {
            continue;
        }
        // The first and last dates hang inwards, so that neither is cut at the edge.
        let anchor = match i {
            _ if points.len() == 1 => "middle",
            0 => "start",
            i if i == last => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{0:.1}" y="{1:.1}" text-anchor="{anchor}" class="chart-value">{value:.2}</text><text x="{0:.1}" y="{2}" text-anchor="{anchor}" class="chart-tick">{3}</text>"#,
            x(i),
            y(*value) - 10.0,
            height - bottom + 22.0,
            xml(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_carry_their_numbers_and_names() {
        let svg = bars(
            "c",
            "Item means",
            "Mean per item on a 1 to 7 scale",
            &[Bar {
                label: "Safe to take a risk <here>".into(),
                value: 5.5,
                shown: "5.50".into(),
            }],
            1.0,
            7.0,
        );
        assert!(
            svg.contains("role=\"img\"")
                && svg.contains("<title id=\"c-title\">Item means</title>")
        );
        assert!(svg.contains(">5.50<"));
        assert!(svg.contains("&lt;here&gt;"), "labels are escaped");
        assert!(!svg.contains("style"), "the CSP refuses inline style");
        let svg = line(
            "t",
            "Trend",
            "Team score per round",
            &[("Q1".into(), 4.25), ("Q2".into(), 5.0)],
            1.0,
            7.0,
        );
        assert!(svg.contains(">4.25<") && svg.contains(">5.00<") && svg.contains("<polyline"));
    }

    #[test]
    fn long_labels_wrap_and_keep_every_word() {
        let label = "An experiment, not yet an intelligent failure: a test that missed a criterion";
        let lines = wrap(label, 20);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines.join(" "), label);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        let svg = bars(
            "w",
            "Types",
            "Loops by type",
            &[Bar {
                label: label.into(),
                value: 1.0,
                shown: "1".into(),
            }],
            0.0,
            1.0,
        );
        assert!(!svg.contains('…'), "nothing is cut");
        for word in label.split_whitespace() {
            assert!(svg.contains(word), "{word}");
        }
    }

    #[test]
    fn a_long_trend_writes_some_labels_always_the_first_and_last() {
        assert_eq!(labelled(3), [true, true, true]);
        let many = labelled(20);
        assert!(many[0] && many[19]);
        assert!(many.iter().filter(|b| **b).count() <= LINE_LABELS + 1);
        let points: Vec<(String, f64)> = (0..20).map(|i| (format!("day {i}"), 4.0)).collect();
        let svg = line("l", "Trend", "Twenty rounds", &points, 1.0, 7.0);
        assert_eq!(svg.matches("<circle").count(), 20, "every point is drawn");
        assert!(svg.contains(">day 0<") && svg.contains(">day 19<"));
    }
}
