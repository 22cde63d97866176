//! Highlighted search snippets as HTML: the text is escaped first, then the stores' match marks
//! become `<mark>` elements, so nothing from a record can inject markup.

use crate::domain::search::{MARK_END, MARK_START};

/// Escapes `text` for HTML and turns the match marks into balanced `<mark>` elements.
pub fn marked_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 16);
    let mut open = false;
    for c in text.chars() {
        match c {
            MARK_START if !open => {
                html.push_str("<mark>");
                open = true;
            }
            MARK_END if open => {
                html.push_str("</mark>");
                open = false;
            }
            MARK_START | MARK_END => {}
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

/// The text without marks (for plain-text clients).
pub fn unmarked(text: &str) -> String {
    text.chars()
        .filter(|c| *c != MARK_START && *c != MARK_END)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_then_marks() {
        assert_eq!(
            marked_html("<b>\u{2}disk\u{3}</b> & \u{2}full"),
            "&lt;b&gt;<mark>disk</mark>&lt;/b&gt; &amp; <mark>full</mark>"
        );
        assert_eq!(marked_html("\u{3}stray"), "stray");
        assert_eq!(unmarked("a \u{2}b\u{3}"), "a b");
    }
}
