//! HTML postmortems — a Confluence page export, a Google Docs "Web page" export, a page of
//! GitHub-rendered Markdown — turned into the Markdown the lenient reader
//! ([`super::postmortem`]) understands, so that every rule it has for headings, lists, tables,
//! timelines and action items applies to them too.
//!
//! The document is parsed by html5ever (through `scraper`), the parser browsers' algorithm is
//! specified by, so that the tag soup exporters write reads as a browser would show it. Only the
//! page's content is read: Confluence's `#main-content` (its title from `#title-text`), GitHub's
//! `.markdown-body`, else the body; the exporters' navigation, breadcrumbs and footers around it
//! are not part of the document. No IO.

use ego_tree::NodeRef;
use scraper::{Html, Node};

/// Nesting deeper than this is read as plain text: no written document nests so deep, and a
/// hostile one must not exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Whether a file is HTML: by its extension, else by how its text starts (a doctype, `<html>`,
/// `<head>`, `<body>` or `<meta>`), so that a Markdown file holding an HTML comment is not.
pub fn is_html(file_name: Option<&str>, text: &str) -> bool {
    let extension = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    if let Some(e) = extension.as_deref() {
        if matches!(e, "html" | "htm" | "xhtml") {
            return true;
        }
        if matches!(e, "md" | "markdown" | "txt" | "json" | "csv") {
            return false;
        }
    }
    let start: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    let start = match start.strip_prefix("<?xml") {
        Some(_) => text
            .get(..text.len().min(1024))
            .unwrap_or("")
            .to_ascii_lowercase()
            .split_once("?>")
            .map(|(_, rest)| rest.trim_start().to_owned())
            .unwrap_or_default(),
        None => start,
    };
    ["<!doctype html", "<html", "<head", "<body", "<meta"]
        .iter()
        .any(|tag| start.starts_with(tag))
}

/// The document as Markdown: headings as `#` lines, paragraphs, lists (task lists with their
/// boxes), tables as pipe tables, bold as `**`, code blocks fenced. Text is kept as written;
/// only whitespace is collapsed, as a browser shows it.
pub fn to_markdown(html: &str) -> String {
    let document = Html::parse_document(html);
    let root = document.tree.root();
    let mut writer = Writer {
        bold_classes: bold_classes(root),
        out: String::new(),
        inline: String::new(),
    };
    let confluence = find(root, |e| e.id() == Some("main-content"));
    let github = find(root, |e| {
        e.classes().any(|c| c == "markdown-body") && e.name() != "body"
    });
    let body = find(root, |e| e.name() == "body");
    let content = confluence.or(github).or(body).unwrap_or(root);

    // The title: Confluence's page title element, else — when the content does not start with a
    // heading of its own — the page's `og:title`, else its <title>; Confluence's "Space : "
    // prefix dropped. The file name is the reader's last resort.
    let without_space = |text: String| match text.split_once(" : ") {
        Some((_, page)) if !page.trim().is_empty() => page.trim().to_owned(),
        _ => text,
    };
    let confluence_title = confluence
        .and_then(|_| find(root, |e| e.id() == Some("title-text")))
        .map(|t| collapse(&text_of(t)))
        .filter(|t| !t.is_empty());
    let page_title = confluence_title
        .or_else(|| {
            (github.is_none() && !starts_with_heading(content))
                .then(|| {
                    find(root, |e| {
                        e.name() == "meta"
                            && e.attr("property") == Some("og:title")
                            && e.attr("content").is_some_and(|c| !c.trim().is_empty())
                    })
                    .and_then(|m| element(m).and_then(|e| e.attr("content")))
                    .map(collapse)
                    .or_else(|| find(root, |e| e.name() == "title").map(|t| collapse(&text_of(t))))
                })
                .flatten()
        })
        .map(without_space);
    if let Some(title) = page_title.filter(|t| !t.is_empty()) {
        writer.out.push_str("# ");
        writer.out.push_str(&title);
        writer.out.push_str("\n\n");
    }
    writer.children(content, 0, 0);
    writer.flush();
    writer.out.trim().to_owned() + "\n"
}

fn element(node: NodeRef<'_, Node>) -> Option<&scraper::node::Element> {
    match node.value() {
        Node::Element(e) => Some(e),
        _ => None,
    }
}

/// The first element, in document order, for which `test` holds.
fn find<'a>(
    root: NodeRef<'a, Node>,
    test: impl Fn(&scraper::node::Element) -> bool,
) -> Option<NodeRef<'a, Node>> {
    root.descendants().find(|n| element(*n).is_some_and(&test))
}

/// All text under a node, without markup (iterative: safe at any depth).
fn text_of(node: NodeRef<'_, Node>) -> String {
    let mut text = String::new();
    for n in node.descendants() {
        if let Node::Text(t) = n.value() {
            let hidden = n.ancestors().any(|a| {
                element(a).is_some_and(|e| matches!(e.name(), "script" | "style" | "template"))
            });
            if !hidden {
                text.push_str(t);
            }
        }
    }
    text
}

/// Whitespace as a browser shows it: runs of spaces, tabs, line ends and no-break spaces as
/// one space.
fn collapse(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Classes a `<style>` element makes bold (Google Docs marks bold text with a class such as
/// `.c4{font-weight:700}`, never with `<b>`).
fn bold_classes(root: NodeRef<'_, Node>) -> Vec<String> {
    let mut classes = Vec::new();
    for style in root
        .descendants()
        .filter(|n| element(*n).is_some_and(|e| e.name() == "style"))
    {
        let css: String = style
            .children()
            .filter_map(|n| match n.value() {
                Node::Text(t) => Some(&**t),
                _ => None,
            })
            .collect();
        for rule in css.split('}') {
            let Some((selectors, body)) = rule.split_once('{') else {
                continue;
            };
            let body = body.replace(' ', "").to_ascii_lowercase();
            if !(body.contains("font-weight:700")
                || body.contains("font-weight:bold")
                || body.contains("font-weight:800")
                || body.contains("font-weight:900"))
            {
                continue;
            }
            for selector in selectors.split(',') {
                let selector = selector.trim();
                if let Some(class) = selector.strip_prefix('.') {
                    if class
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
                    {
                        classes.push(class.to_owned());
                    }
                }
            }
        }
    }
    classes
}

fn heading_level(e: &scraper::node::Element) -> Option<u8> {
    match e.name() {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        // Google Docs writes its "Title" style as a paragraph of class `title`.
        "p" if e.classes().any(|c| c == "title") => Some(1),
        _ => None,
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "table"
            | "pre"
            | "blockquote"
            | "section"
            | "article"
            | "main"
            | "header"
            | "footer"
            | "aside"
            | "figure"
            | "figcaption"
            | "dl"
            | "dt"
            | "dd"
            | "hr"
            | "details"
            | "summary"
            | "nav"
            | "form"
            | "fieldset"
            | "address"
            | "body"
            | "html"
            | "center"
    )
}

fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "head" | "script" | "style" | "template" | "noscript" | "svg" | "button" | "select"
    )
}

/// Whether a node's first block of text is a heading.
fn starts_with_heading(node: NodeRef<'_, Node>) -> bool {
    for n in node.descendants().skip(1) {
        match n.value() {
            Node::Element(e) if heading_level(e).is_some() => return true,
            Node::Text(t) if !t.trim().is_empty() => return false,
            _ => {}
        }
    }
    false
}

struct Writer {
    bold_classes: Vec<String>,
    out: String,
    /// The paragraph being written.
    inline: String,
}

impl Writer {
    fn is_bold(&self, e: &scraper::node::Element) -> bool {
        matches!(e.name(), "b" | "strong")
            || e.classes()
                .any(|c| self.bold_classes.iter().any(|b| b == c))
            || e.attr("style").is_some_and(|s| {
                let s = s.replace(' ', "").to_ascii_lowercase();
                s.contains("font-weight:700") || s.contains("font-weight:bold")
            })
    }

    /// Ends the paragraph being written.
    fn flush(&mut self) {
        let text = self.inline.trim().to_owned();
        self.inline.clear();
        for line in text.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            self.out.push_str(&escape_start(line));
            self.out.push('\n');
        }
        if !text.is_empty() {
            self.out.push('\n');
        }
    }

    fn block(&mut self, text: &str) {
        self.flush();
        self.out.push_str(text);
        self.out.push_str("\n\n");
    }

    fn children(&mut self, node: NodeRef<'_, Node>, depth: usize, list_depth: usize) {
        for child in node.children() {
            self.node(child, depth + 1, list_depth);
        }
    }

    fn node(&mut self, node: NodeRef<'_, Node>, depth: usize, list_depth: usize) {
        match node.value() {
            Node::Text(t) => push_text(&mut self.inline, t),
            Node::Element(e) => {
                let name = e.name();
                if is_skipped(name) {
                    return;
                }
                if depth > MAX_DEPTH {
                    push_text(&mut self.inline, &text_of(node));
                    return;
                }
                if let Some(level) = heading_level(e) {
                    let text = collapse(&self.inline_of(node, depth)).replace("**", "");
                    if !text.is_empty() {
                        let hashes = "#".repeat(usize::from(level));
                        self.block(&format!("{hashes} {text}"));
                    }
                    return;
                }
                match name {
                    "ul" | "ol" => {
                        self.flush();
                        self.list(node, depth, list_depth, name == "ol");
                        if list_depth == 0 {
                            self.out.push('\n');
                        }
                    }
                    "table" => {
                        self.flush();
                        self.table(node, depth);
                    }
                    "pre" => {
                        let code = text_of(node);
                        let fence = if code.contains("```") { "~~~" } else { "```" };
                        self.block(&format!("{fence}\n{}\n{fence}", code.trim_end()));
                    }
                    "blockquote" => {
                        self.flush();
                        let mut inner = Writer {
                            bold_classes: self.bold_classes.clone(),
                            out: String::new(),
                            inline: String::new(),
                        };
                        inner.children(node, depth, 0);
                        inner.flush();
                        let quoted: Vec<String> = inner
                            .out
                            .trim()
                            .lines()
                            .map(|l| format!("> {l}").trim_end().to_owned())
                            .collect();
                        if !quoted.is_empty() {
                            self.block(&quoted.join("\n"));
                        }
                    }
                    "br" => self.inline.push('\n'),
                    "hr" => self.flush(),
                    _ if is_block(name) => {
                        self.flush();
                        self.children(node, depth, list_depth);
                        self.flush();
                    }
                    _ => {
                        let text = self.inline_of(node, depth);
                        self.inline.push_str(&text);
                    }
                }
            }
            _ => {}
        }
    }

    /// An inline element (or a heading's or cell's content) as Markdown text.
    fn inline_of(&self, node: NodeRef<'_, Node>, depth: usize) -> String {
        let mut out = String::new();
        self.inline_into(node, depth, &mut out);
        out
    }

    fn inline_into(&self, node: NodeRef<'_, Node>, depth: usize, out: &mut String) {
        match node.value() {
            Node::Text(t) => push_text(out, t),
            Node::Element(e) => {
                let name = e.name();
                if is_skipped(name) {
                    return;
                }
                if depth > MAX_DEPTH {
                    push_text(out, &text_of(node));
                    return;
                }
                if name == "br" {
                    out.push('\n');
                    return;
                }
                if name == "input" {
                    if e.attr("type") == Some("checkbox") {
                        out.push_str(if e.attr("checked").is_some() {
                            "[x] "
                        } else {
                            "[ ] "
                        });
                    }
                    return;
                }
                if name == "img" {
                    return;
                }
                let mut inner = String::new();
                for child in node.children() {
                    self.inline_into(child, depth + 1, &mut inner);
                }
                if is_block(name) && !out.is_empty() && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
                let bold = self.is_bold(e) && !inner.contains("**");
                let trimmed = inner.trim();
                if trimmed.is_empty() {
                    out.push_str(&inner);
                    return;
                }
                let wrapped = match name {
                    "code" | "kbd" | "samp" if !trimmed.contains('`') => format!("`{trimmed}`"),
                    "del" | "s" | "strike" => format!("~~{trimmed}~~"),
                    "a" => match link_target(e.attr("href")) {
                        Some(href) if href != trimmed && !trimmed.contains(['[', ']']) => {
                            format!("[{trimmed}]({href})")
                        }
                        _ => trimmed.to_owned(),
                    },
                    _ if bold => format!("**{trimmed}**"),
                    _ => trimmed.to_owned(),
                };
                // Keep the spaces around the element that its content had.
                if inner.starts_with([' ', '\n']) && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
                out.push_str(&wrapped);
                if inner.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }

    fn list(&mut self, node: NodeRef<'_, Node>, depth: usize, list_depth: usize, ordered: bool) {
        // Google Docs writes nested lists as flat sibling lists whose class names their level
        // (`lst-kix_abc-1`).
        let level = element(node)
            .and_then(|e| {
                e.classes().find_map(|c| {
                    c.strip_prefix("lst-kix_")
                        .and_then(|rest| rest.rsplit_once('-'))
                        .and_then(|(_, n)| n.parse::<usize>().ok())
                })
            })
            .unwrap_or(0)
            .max(list_depth);
        let indent = "  ".repeat(level.min(8));
        // Confluence writes its task lists as `<ul class="inline-task-list">`, a done task as
        // `<li class="checked">`.
        let tasks = element(node).is_some_and(|e| e.classes().any(|c| c == "inline-task-list"));
        let mut number = element(node)
            .and_then(|e| e.attr("start"))
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(1);
        for item in node.children() {
            let Some(e) = element(item) else {
                // Text directly inside a list (not valid, but written) is a paragraph.
                if let Node::Text(t) = item.value() {
                    if !t.trim().is_empty() {
                        self.out.push_str(&format!("{indent}- {}\n", collapse(t)));
                    }
                }
                continue;
            };
            if matches!(e.name(), "ul" | "ol") {
                self.list(item, depth + 1, level + 1, e.name() == "ol");
                continue;
            }
            // The item's own text, then its nested lists.
            let mut text = String::new();
            let mut nested = Vec::new();
            for child in item.children() {
                match element(child) {
                    Some(c) if matches!(c.name(), "ul" | "ol") => nested.push(child),
                    _ => self.inline_into(child, depth + 2, &mut text),
                }
            }
            let mut text = collapse(&text);
            if tasks && !text.is_empty() {
                let done = e.classes().any(|c| c == "checked");
                text = format!("{} {text}", if done { "[x]" } else { "[ ]" });
            }
            let marker = if ordered {
                let m = format!("{number}.");
                number += 1;
                m
            } else {
                "-".to_owned()
            };
            if !text.is_empty() {
                self.out.push_str(&format!("{indent}{marker} {text}\n"));
            }
            for list in nested {
                let ordered = element(list).is_some_and(|e| e.name() == "ol");
                self.list(list, depth + 2, level + 1, ordered);
            }
        }
    }

    fn table(&mut self, node: NodeRef<'_, Node>, depth: usize) {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for row in node
            .descendants()
            .filter(|n| element(*n).is_some_and(|e| e.name() == "tr"))
        {
            // Only this table's rows, not those of a table nested in a cell.
            let own = row
                .ancestors()
                .find(|a| element(*a).is_some_and(|e| e.name() == "table"))
                .is_some_and(|t| t.id() == node.id());
            if !own {
                continue;
            }
            let cells: Vec<String> = row
                .children()
                .filter(|c| element(*c).is_some_and(|e| matches!(e.name(), "td" | "th")))
                .map(|c| {
                    collapse(&self.inline_of(c, depth + 2))
                        .replace('|', "\\|")
                        .trim()
                        .to_owned()
                })
                .collect();
            if cells.iter().any(|c| !c.is_empty()) {
                rows.push(cells);
            }
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        if width == 0 {
            return;
        }
        let line = |cells: &[String]| {
            let mut padded: Vec<String> = cells.to_vec();
            padded.resize(width, String::new());
            format!("| {} |", padded.join(" | "))
        };
        let mut text = line(&rows[0]);
        text.push('\n');
        text.push_str(&format!("|{}", " --- |".repeat(width)));
        for row in &rows[1..] {
            text.push('\n');
            text.push_str(&line(row));
        }
        self.block(&text);
    }
}

/// A link's target worth keeping: web and mail addresses (Google Docs' redirect unwrapped);
/// not anchors within the page or scripts.
fn link_target(href: Option<&str>) -> Option<String> {
    let href = href?.trim();
    let lower = href.to_ascii_lowercase();
    if !(lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:"))
    {
        return None;
    }
    if let Some(query) = href
        .strip_prefix("https://www.google.com/url?")
        .or_else(|| href.strip_prefix("http://www.google.com/url?"))
    {
        let target = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("q="))
            .map(percent_decoded)?;
        return link_target(Some(&target));
    }
    if href.contains([' ', '(', ')']) {
        return None;
    }
    Some(href.to_owned())
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text as a browser lays it out: whitespace runs as one space.
fn push_text(out: &mut String, text: &str) {
    let mut space = out.ends_with([' ', '\n']);
    for c in text.chars() {
        if c.is_whitespace() || c == '\u{a0}' {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
}

/// A paragraph line that Markdown would read as a heading or a quotation is escaped: in HTML
/// it was text.
fn escape_start(line: &str) -> String {
    if line.starts_with(['#', '>', '=']) {
        format!("\\{line}")
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_html_by_name_or_start() {
        assert!(is_html(Some("pm.html"), "anything"));
        assert!(is_html(None, "\u{feff}  <!DOCTYPE html><html>"));
        assert!(is_html(None, "<html><body>x</body></html>"));
        assert!(is_html(
            None,
            "<?xml version=\"1.0\"?>\n<html xmlns=\"http://www.w3.org/1999/xhtml\">"
        ));
        assert!(!is_html(None, "# Outage\n\n<!-- template -->"));
        assert!(!is_html(Some("notes.md"), "<html>"));
    }

    #[test]
    fn google_docs_span_soup_becomes_markdown() {
        let html = r#"<html><head><style>.c3{font-weight:700;color:#000}.c1{margin:0}</style>
            <title>Checkout outage</title></head><body class="c9">
            <p class="c1 title"><span class="c3">Checkout outage</span></p>
            <p class="c1"><span class="c3">Summary</span></p>
            <p class="c1"><span>Orders&nbsp;failed for </span><span>40 minutes.</span></p>
            <ul class="c5 lst-kix_abc-0 start"><li class="c2 li-bullet-0"><span>Roll back</span></li></ul>
            <ul class="c5 lst-kix_abc-1 start"><li class="c2 li-bullet-0"><span>Then verify</span></li></ul>
            <p class="c1"><span><a href="https://www.google.com/url?q=https://example.org/t/1&amp;sa=D">ticket</a></span></p>
            </body></html>"#;
        let md = to_markdown(html);
        assert_eq!(
            md,
            "# Checkout outage\n\n**Summary**\n\nOrders failed for 40 minutes.\n\n- Roll back\n\n  - Then verify\n\n[ticket](https://example.org/t/1)\n"
        );
    }

    #[test]
    fn tables_lists_and_task_boxes() {
        let html = "<body><h2>Timeline</h2><table><tr><th>Time</th><th>Event</th></tr>\
            <tr><td><p>16:58</p></td><td><p>Paged | on-call</p></td></tr></table>\
            <ul><li class=\"task-list-item\"><input type=\"checkbox\" checked disabled> Add alert\
            <ul><li>nested</li></ul></li></ul><pre>a  b\n c</pre></body>";
        let md = to_markdown(html);
        assert!(
            md.contains("| Time | Event |\n| --- | --- |\n| 16:58 | Paged \\| on-call |"),
            "{md}"
        );
        assert!(md.contains("- [x] Add alert\n  - nested\n"), "{md}");
        assert!(md.contains("```\na  b\n c\n```"), "{md}");
    }

    #[test]
    fn confluence_content_and_title_without_the_space() {
        let html = r#"<html><body><div id="page"><div id="main">
            <div id="breadcrumb-section"><ol id="breadcrumbs"><li>Ops</li></ol></div>
            <h1 id="title-heading" class="pagetitle"><span id="title-text">Ops : DNS outage</span></h1>
            <div id="content" class="view"><div class="page-metadata">Created by Someone</div>
            <div id="main-content" class="wiki-content group"><h2 id="x-Summary">Summary</h2>
            <p>Resolvers failed.</p></div></div></div>
            <div id="footer"><p>Document generated by Confluence</p></div></div></body></html>"#;
        let md = to_markdown(html);
        assert_eq!(md, "# DNS outage\n\n## Summary\n\nResolvers failed.\n");
    }

    #[test]
    fn deep_nesting_is_read_as_text() {
        let html = format!("{}deep{}", "<div>".repeat(5000), "</div>".repeat(5000));
        assert!(to_markdown(&html).contains("deep"));
    }
}
