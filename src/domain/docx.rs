//! Word documents (`.docx`, Office Open XML) turned into the Markdown the lenient reader
//! ([`super::postmortem`]) understands: headings from paragraph styles ("Heading 1"…, "Title",
//! or an outline level), list paragraphs as list items with their level, tables as pipe tables,
//! bold runs as `**`. Deleted tracked changes, field codes, drawings and comments are no text of
//! the document and are left out.
//!
//! Read with `zip` (already used for archives) and `roxmltree` (a read-only XML tree without
//! dependencies, with no DTDs and a node limit) rather than a Word crate: the reader needs five
//! elements of WordprocessingML, and the crates that model all of it are writers first. No IO:
//! the caller passes the file's bytes.

use std::collections::HashMap;
use std::io::{Cursor, Read};

/// The most the document's XML may unpack to: a postmortem's words are far less, and a zip bomb
/// must not fill the memory.
const MAX_XML_BYTES: u64 = 32 * 1024 * 1024;

/// Why a file is no readable Word document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocxError(pub String);

/// Whether bytes are a Word document: a zip archive holding `word/document.xml`.
pub fn is_docx(file_name: Option<&str>, bytes: &[u8]) -> bool {
    let named = file_name.is_some_and(|n| {
        let lower = n.to_ascii_lowercase();
        lower.ends_with(".docx") || lower.ends_with(".docm")
    });
    named
        || (bytes.starts_with(b"PK\x03\x04")
            && zip::ZipArchive::new(Cursor::new(bytes))
                .is_ok_and(|z| z.index_for_name("word/document.xml").is_some()))
}

fn part(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Option<String>, DocxError> {
    let Ok(entry) = zip.by_name(name) else {
        return Ok(None);
    };
    if entry.size() > MAX_XML_BYTES {
        return Err(DocxError(format!(
            "is not a readable .docx: {name} unpacks to more than {MAX_XML_BYTES} bytes"
        )));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DocxError(format!("is not a readable .docx: {name}: {e}")))?;
    if bytes.len() as u64 > MAX_XML_BYTES {
        return Err(DocxError(format!(
            "is not a readable .docx: {name} unpacks to more than {MAX_XML_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| DocxError(format!("is not a readable .docx: {name} is not UTF-8")))
}

fn parse_xml<'i>(text: &'i str, name: &str) -> Result<roxmltree::Document<'i>, DocxError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 4_000_000,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| DocxError(format!("is not a readable .docx: {name}: {e}")))
}

/// The document as Markdown.
pub fn to_markdown(bytes: &[u8]) -> Result<String, DocxError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(DocxError(
            "is not a .docx (a Word document is a zip archive)".to_owned(),
        ));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| DocxError(format!("is not a readable .docx: {e}")))?;
    let document = part(&mut zip, "word/document.xml")?.ok_or_else(|| {
        DocxError("is not a readable .docx: it has no word/document.xml".to_owned())
    })?;
    let styles = match part(&mut zip, "word/styles.xml")? {
        Some(xml) => heading_styles(&parse_xml(&xml, "word/styles.xml")?),
        None => HashMap::new(),
    };
    let tree = parse_xml(&document, "word/document.xml")?;
    let body = tree
        .root_element()
        .children()
        .find(|n| n.tag_name().name() == "body")
        .ok_or_else(|| DocxError("is not a readable .docx: its document has no body".to_owned()))?;
    let mut writer = Writer {
        styles,
        out: String::new(),
        in_list: false,
    };
    writer.blocks(body, 0);
    Ok(writer.out.trim().to_owned() + "\n")
}

/// What a paragraph style makes of its paragraphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StyleKind {
    Heading(u8),
    List,
}

/// Style ids mapped to what they are, by their names ("heading 2", "Title", "List Bullet") or
/// outline levels: ids are localised ("berschrift1"), the built-in names are not.
fn heading_styles(doc: &roxmltree::Document<'_>) -> HashMap<String, StyleKind> {
    let mut kinds = HashMap::new();
    for style in doc.descendants().filter(|n| n.tag_name().name() == "style") {
        let Some(id) = attr(style, "styleId") else {
            continue;
        };
        let name = style
            .children()
            .find(|n| n.tag_name().name() == "name")
            .and_then(|n| attr(n, "val"))
            .unwrap_or(id)
            .to_ascii_lowercase();
        let outline = style
            .descendants()
            .find(|n| n.tag_name().name() == "outlineLvl")
            .and_then(|n| attr(n, "val"))
            .and_then(|v| v.parse::<u8>().ok());
        let kind = style_kind(&name).or_else(|| {
            outline
                .filter(|l| *l < 6)
                .map(|l| StyleKind::Heading(l + 1))
        });
        if let Some(kind) = kind {
            kinds.insert(id.to_owned(), kind);
        }
    }
    kinds
}

fn style_kind(name: &str) -> Option<StyleKind> {
    let name = name.trim().to_ascii_lowercase();
    let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "title" {
        return Some(StyleKind::Heading(1));
    }
    if let Some(n) = compact.strip_prefix("heading") {
        if let Ok(level) = n.parse::<u8>() {
            return Some(StyleKind::Heading(level.clamp(1, 6)));
        }
    }
    if compact.starts_with("list") && !compact.starts_with("listtable") {
        return Some(StyleKind::List);
    }
    None
}

/// An attribute by its local name, whatever its namespace prefix (`w:val`).
fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == name)
        .map(|a| a.value())
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.tag_name().name() == name)
}

/// Whether a toggle property (`<w:b/>`, `<w:b w:val="0"/>`) is on.
fn on(node: Option<roxmltree::Node<'_, '_>>) -> bool {
    node.is_some_and(|n| !matches!(attr(n, "val"), Some("0" | "false" | "off" | "none")))
}

struct Writer {
    styles: HashMap<String, StyleKind>,
    out: String,
    in_list: bool,
}

/// Nesting deeper than this (content controls in content controls…) is not read further.
const MAX_DEPTH: usize = 64;

impl Writer {
    fn blocks(&mut self, parent: roxmltree::Node<'_, '_>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for node in parent.children().filter(roxmltree::Node::is_element) {
            match node.tag_name().name() {
                "p" => self.paragraph(node),
                "tbl" => {
                    self.end_list();
                    self.table(node);
                }
                // Content controls and tracked insertions hold paragraphs of the document.
                "sdt" | "sdtContent" | "ins" | "customXml" | "smartTag" => {
                    self.blocks(node, depth + 1)
                }
                _ => {}
            }
        }
    }

    fn end_list(&mut self) {
        if self.in_list {
            self.out.push('\n');
            self.in_list = false;
        }
    }

    fn paragraph(&mut self, p: roxmltree::Node<'_, '_>) {
        let properties = child(p, "pPr");
        let style = properties
            .and_then(|pr| child(pr, "pStyle"))
            .and_then(|s| attr(s, "val"))
            .unwrap_or("");
        let kind = self
            .styles
            .get(style)
            .copied()
            .or_else(|| style_kind(style))
            .or_else(|| {
                properties
                    .and_then(|pr| child(pr, "outlineLvl"))
                    .and_then(|o| attr(o, "val"))
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|l| *l < 6)
                    .map(|l| StyleKind::Heading(l + 1))
            });
        let numbering = properties.and_then(|pr| child(pr, "numPr"));
        let text = inline_text(p, 0);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        match kind {
            Some(StyleKind::Heading(level)) => {
                self.end_list();
                let plain = text.replace("**", "").replace('\n', " ");
                self.out.push_str(&format!(
                    "{} {}\n\n",
                    "#".repeat(usize::from(level)),
                    plain.trim()
                ));
            }
            _ if numbering.is_some() || kind == Some(StyleKind::List) => {
                let level = numbering
                    .and_then(|n| child(n, "ilvl"))
                    .and_then(|l| attr(l, "val"))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0)
                    .min(8);
                self.in_list = true;
                self.out.push_str(&format!(
                    "{}- {}\n",
                    "  ".repeat(level),
                    text.replace('\n', " ")
                ));
            }
            _ => {
                self.end_list();
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    if line.starts_with(['#', '>', '=']) {
                        self.out.push('\\');
                    }
                    self.out.push_str(line);
                    self.out.push('\n');
                }
                self.out.push('\n');
            }
        }
    }

    fn table(&mut self, table: roxmltree::Node<'_, '_>) {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for row in table.children().filter(|n| n.tag_name().name() == "tr") {
            let cells: Vec<String> = row
                .children()
                .filter(|n| n.tag_name().name() == "tc")
                .map(|cell| {
                    cell.descendants()
                        .filter(|n| n.tag_name().name() == "p")
                        .map(|p| inline_text(p, 0).replace('\n', " ").trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                        .replace('|', "\\|")
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
        for (i, row) in rows.iter().enumerate() {
            let mut padded = row.clone();
            padded.resize(width, String::new());
            self.out.push_str(&format!("| {} |\n", padded.join(" | ")));
            if i == 0 {
                self.out.push_str(&format!("|{}\n", " --- |".repeat(width)));
            }
        }
        self.out.push('\n');
    }
}

/// A paragraph's text: its runs (through hyperlinks, tracked insertions and content controls),
/// tabs as spaces, breaks as line ends, bold runs as `**`.
fn inline_text(node: roxmltree::Node<'_, '_>, depth: usize) -> String {
    let mut out = String::new();
    if depth > MAX_DEPTH {
        return out;
    }
    for n in node.children().filter(roxmltree::Node::is_element) {
        match n.tag_name().name() {
            "r" => {
                let bold = child(n, "rPr").is_some_and(|pr| on(child(pr, "b")));
                let mut run = String::new();
                for part in n.children().filter(roxmltree::Node::is_element) {
                    match part.tag_name().name() {
                        "t" => run.push_str(part.text().unwrap_or("")),
                        "tab" | "ptab" => run.push(' '),
                        "br" | "cr" => run.push('\n'),
                        "noBreakHyphen" => run.push('-'),
                        _ => {}
                    }
                }
                let trimmed = run.trim();
                if bold && !trimmed.is_empty() && !trimmed.contains("**") && !run.contains('\n') {
                    let lead = &run[..run.len() - run.trim_start().len()];
                    let tail = &run[run.trim_end().len()..];
                    // Adjacent bold runs join into one strong span.
                    if out.ends_with("**") && lead.is_empty() {
                        out.truncate(out.len() - 2);
                        out.push_str(trimmed);
                        out.push_str("**");
                    } else {
                        out.push_str(lead);
                        out.push_str(&format!("**{trimmed}**"));
                    }
                    out.push_str(tail);
                } else {
                    out.push_str(&run);
                }
            }
            "hyperlink" | "ins" | "smartTag" | "customXml" | "sdt" | "sdtContent" | "fldSimple"
            | "dir" | "bdo" => out.push_str(&inline_text(n, depth + 1)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn docx(document: &str, styles: Option<&str>) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("word/document.xml", options).expect("entry");
        zip.write_all(document.as_bytes()).expect("write");
        if let Some(styles) = styles {
            zip.start_file("word/styles.xml", options).expect("entry");
            zip.write_all(styles.as_bytes()).expect("write");
        }
        zip.finish().expect("zip").into_inner()
    }

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    #[test]
    fn headings_lists_tables_and_bold() {
        let document = format!(
            r#"<w:document {W}><w:body>
            <w:p><w:pPr><w:pStyle w:val="berschrift1"/></w:pPr><w:r><w:t>Queue outage</w:t></w:r></w:p>
            <w:p><w:r><w:rPr><w:b/></w:rPr><w:t>Date:</w:t></w:r><w:r><w:t xml:space="preserve"> 2025-09-29</w:t></w:r></w:p>
            <w:p><w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="3"/></w:numPr></w:pPr><w:r><w:t>nested item</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Time</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Event</w:t></w:r></w:p></w:tc></w:tr>
            <w:tr><w:tc><w:p><w:r><w:t>16:58</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Paged</w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#
        );
        let styles = format!(
            r#"<w:styles {W}><w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style></w:styles>"#
        );
        let md = to_markdown(&docx(&document, Some(&styles))).expect("read");
        assert_eq!(
            md,
            "# Queue outage\n\n**Date:** 2025-09-29\n\n  - nested item\n\n| Time | Event |\n| --- | --- |\n| 16:58 | Paged |\n"
        );
    }

    #[test]
    fn what_is_no_word_document_is_refused() {
        assert!(to_markdown(b"\x89PNG\r\n\x1a\n").is_err());
        assert!(to_markdown(b"PK\x03\x04 broken").is_err());
        let no_document = docx("<x/>", None);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("other.xml", zip::write::SimpleFileOptions::default())
            .expect("entry");
        let other = zip.finish().expect("zip").into_inner();
        assert!(to_markdown(&other).is_err());
        assert!(
            to_markdown(&no_document).is_err(),
            "a document without a body"
        );
        let dtd = docx(
            r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><w:document><w:body/></w:document>"#,
            None,
        );
        assert!(to_markdown(&dtd).is_err());
    }
}
