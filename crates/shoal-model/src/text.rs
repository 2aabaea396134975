//! Which characters a stored string may hold. Every AWS response Shoal writes is XML
//! 1.0 (EC2, Query) or must convert to it, and XML 1.0 cannot carry most C0 control
//! characters at all — not even as `&#0;`. A string AWS would accept but XML cannot
//! carry would break every later Describe, so inputs are checked against XML 1.0's
//! `Char` production, which is also what AWS documents for CloudWatch names ("must
//! contain valid XML characters").

/// XML 1.0 `Char`: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// True when every character of `s` can be written in an XML 1.0 document.
pub fn is_xml_text(s: &str) -> bool {
    s.chars().all(is_xml_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars() {
        for (s, ok) in [
            ("plain", true),
            ("tab\tnewline\ncr\r", true),
            ("ünïcödé ✓ 😀", true),
            ("a\0b", false),
            ("bell\u{7}", false),
            ("\u{FFFE}", false),
            ("\u{FFFF}", false),
            ("\u{1F}", false),
        ] {
            assert_eq!(is_xml_text(s), ok, "{s:?}");
        }
    }
}
