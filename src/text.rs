//! Untrusted text: strings that came from Okta or from Slack's answers, on
//! their way into a log line or onto a terminal.
//!
//! Such a string may carry a newline that starts a forged log line, escape
//! sequences that recolour or retitle a terminal, or characters that reorder
//! or hide what is shown. [`Untrusted`] shows all of those escaped.

use std::fmt;

/// Whether `c` may change how text around it is read: control characters,
/// bidirectional overrides and isolates, zero-width characters, and line or
/// paragraph separators.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Displays a string with every deceptive character escaped (`\n`, `\u{202e}`).
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if is_deceptive(c) {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Keeps at most `max` items of a list for a log line, saying how many more.
pub fn first_of(items: &[String], max: usize) -> String {
    // A comma inside an item is escaped, so that one item never reads as two.
    let shown = items[..items.len().min(max)]
        .iter()
        .map(|item| item.replace(',', "\\u{2c}"))
        .collect::<Vec<_>>()
        .join(",");
    match items.len().saturating_sub(max) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deceptive_characters_are_shown_escaped() {
        let shown = Untrusted("a\nb\u{1b}[31m\u{202e}c\u{85}").to_string();
        assert_eq!(shown, "a\\u{a}b\\u{1b}[31m\\u{202e}c\\u{85}");
        assert_eq!(Untrusted("plain-uuid-1").to_string(), "plain-uuid-1");
    }

    #[test]
    fn long_lists_are_cut() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(first_of(&items, 3), "0,1,2 and 2 more");
        assert_eq!(first_of(&items, 10), "0,1,2,3,4");
        let forged = ["a,forged".to_owned(), "b".to_owned()];
        assert_eq!(
            first_of(&forged, 10),
            "a\\u{2c}forged,b",
            "one item stays one"
        );
    }
}
