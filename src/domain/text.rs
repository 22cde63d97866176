//! Shared rules for short, human-written text.

use std::fmt;

/// Why a value was refused, in words that can be shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A closed set of values that forms, files and the API send as words. The front doors read a
/// word into the enum at the edge with it, so the use cases take the enum and never re-parse a
/// string; the refusal says which words are allowed, to be shown next to the field.
pub trait Word: Sized {
    fn parse_word(raw: &str) -> Result<Self, Invalid>;
}

/// Trims `raw` and checks it is a single line of 1..=`max` characters without control characters.
///
/// Lengths are counted in Unicode scalar values, which is what people see as "characters" in most
/// scripts; byte lengths would punish non-Latin names.
pub fn single_line(raw: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("is required"));
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(Invalid(format!(
            "is too long ({count} characters; at most {max})"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(
            "must be a single line without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Like [`single_line`] but allows line breaks and tabs, for longer prose.
pub fn multi_line(raw: &str, max: usize, required: bool) -> Result<String, Invalid> {
    let normalised = raw.replace("\r\n", "\n");
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return if required {
            Err(Invalid::new("is required"))
        } else {
            Ok(String::new())
        };
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(Invalid(format!(
            "is too long ({count} characters; at most {max})"
        )));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Invalid::new("must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// "1 loop", "2 loops", "0 loops": a count with its noun in the right number, so that no page
/// says "1 loops".
pub fn count(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

/// "Ops's" would read wrong for "Payments": a name ending in s takes the apostrophe alone.
pub fn possessive(name: impl std::fmt::Display) -> String {
    let name = name.to_string();
    if name.ends_with(['s', 'S']) {
        format!("{name}'")
    } else {
        format!("{name}'s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_trims_and_bounds() {
        assert_eq!(single_line("  Payments  ", 10).as_deref(), Ok("Payments"));
        assert!(single_line("   ", 10).is_err());
        assert!(single_line("abcdefghijk", 10).is_err());
        assert_eq!(single_line("ééééé", 5).as_deref(), Ok("ééééé"));
        assert!(single_line("a\nb", 10).is_err());
    }

    #[test]
    fn multi_line_allows_breaks_but_not_other_controls() {
        assert_eq!(multi_line("a\r\nb", 10, true).as_deref(), Ok("a\nb"));
        assert!(multi_line("a\u{7}b", 10, true).is_err());
        assert_eq!(multi_line("", 10, false).as_deref(), Ok(""));
        assert!(multi_line("", 10, true).is_err());
    }

    #[test]
    fn counts_and_possessives_read_as_english() {
        assert_eq!(count(1, "loop", "loops"), "1 loop");
        assert_eq!(count(0_usize, "loop", "loops"), "0 loops");
        assert_eq!(count(-1, "loop", "loops"), "-1 loops");
        assert_eq!(count(11, "dot", "dots"), "11 dots");
        assert_eq!(possessive("Payments"), "Payments'");
        assert_eq!(possessive("Ops"), "Ops'");
        assert_eq!(possessive("Platform"), "Platform's");
    }
}
