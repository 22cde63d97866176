//! Small server-rendered SVG charts that read without colour: every bar and point carries its
//! number as text, the chart has a title and a description for screen readers, and each page puts
//! the same numbers in a table beside it. Hand-written because the two shapes needed (bars and a
//! line) are a few dozen lines, and the markup must carry `role`, `<title>` and `<desc>`.

use std::fmt::Write;

/// Escapes text for SVG/XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: its label, its value and the text printed at its end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

/// Horizontal bars from `min` to `max` (e.g. the 1–7 scale).
pub fn bars(id: &str, title: &str, description: &str, bars: &[Bar], min: f64, max: f64) -> String {
    let row = 28.0;
    let label_width = 260.0;
    let plot_width = 300.0;
    let height = row * bars.len() as f64 + 30.0;
    let width = label_width + plot_width + 70.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        xml(title),
        xml(description)
    );
    let span = (max - min).max(f64::EPSILON);
    for (i, bar) in bars.iter().enumerate() {
        let y = 10.0 + row * i as f64;
        let length = ((bar.value - min) / span).clamp(0.0, 1.0) * plot_width;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" class="chart-label">{}</text><rect x="{label_width}" y="{}" width="{length:.1}" height="{}" class="chart-bar"/><text x="{:.1}" y="{}" class="chart-value">{}</text>"#,
            label_width - 8.0,
            y + 17.0,
            xml(&bar.label),
            y + 4.0,
            row - 10.0,
            label_width + length + 6.0,
            y + 17.0,
            xml(&bar.shown)
        );
    }
    let axis_y = 10.0 + row * bars.len() as f64;
    let _ = write!(
        svg,
        r#"<line x1="{label_width}" y1="{axis_y}" x2="{}" y2="{axis_y}" class="chart-axis"/><text x="{label_width}" y="{}" class="chart-tick">{min}</text><text x="{}" y="{}" text-anchor="end" class="chart-tick">{max}</text></svg>"#,
        label_width + plot_width,
        axis_y + 16.0,
        label_width + plot_width,
        axis_y + 16.0,
    );
    svg
}

/// A line through points from left to right, each marked and labelled with its value.
pub fn line(
    id: &str,
    title: &str,
    description: &str,
    points: &[(String, f64)],
    min: f64,
    max: f64,
) -> String {
    let width = 640.0;
    let height = 260.0;
    let (left, right, top, bottom) = (40.0, 20.0, 20.0, 50.0);
    let plot_w = width - left - right;
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
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        xml(title),
        xml(description)
    );
    for tick in [min, (min + max) / 2.0, max] {
        let _ = write!(
            svg,
            r#"<line x1="{left}" y1="{0:.1}" x2="{1}" y2="{0:.1}" class="chart-grid"/><text x="{2}" y="{3:.1}" text-anchor="end" class="chart-tick">{tick}</text>"#,
            y(tick),
            width - right,
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
    for (i, (label, value)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" class="chart-point"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="chart-value">{value:.2}</text><text x="{:.1}" y="{}" text-anchor="middle" class="chart-label">{}</text>"#,
            x(i),
            y(*value),
            x(i),
            y(*value) - 10.0,
            x(i),
            height - bottom + 20.0,
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
}
