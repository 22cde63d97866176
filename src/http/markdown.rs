//! Markdown in long fields, rendered safely: pulldown-cmark turns it into HTML, then ammonia keeps
//! only an allow-list of tags and attributes. No script, no event handler, no `javascript:` link,
//! no style and no remote image survives (images would let a writer track who reads).

use std::sync::OnceLock;

use pulldown_cmark::{html, Options, Parser};

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .rm_tags(["img"])
            .link_rel(Some("noopener noreferrer nofollow"))
            .url_schemes(["http", "https", "mailto"].into_iter().collect());
        builder
    })
}

/// Safe HTML for `markdown`.
pub fn render(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    sanitizer().clean(&unsafe_html).to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn formatting_survives() {
        let html = render("**bold** and [a link](https://example.org)\n\n- one\n- two");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("href=\"https://example.org\""));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
        assert!(html.contains("<li>one</li>"));
    }

    #[test]
    fn scripts_handlers_and_javascript_links_do_not() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<div onclick=\"alert(1)\">x</div>",
            "<svg onload=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "[x](  javascript:alert(1)  )",
            "<style>body{display:none}</style>",
            "<object data=\"x\"></object>",
            "<form action=\"https://evil.example\"><button>x</button></form>",
            "![tracker](https://evil.example/pixel.png)",
            "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        ];
        for attack in attacks {
            let html = render(attack).to_lowercase();
            for banned in [
                "<script",
                "onerror",
                "onclick",
                "onload",
                "javascript:",
                "<iframe",
                "<style",
                "<object",
                "<form",
                "<img",
                "data:text",
            ] {
                assert!(!html.contains(banned), "{attack:?} rendered {html:?}");
            }
        }
    }
}
