//! A small XML writer for AWS responses. Architecture invariant: `api` is the only
//! module that knows XML.

use std::fmt::{Display, Write};

/// Builds an XML document in a string.
#[derive(Default)]
pub struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml { buf: String::with_capacity(1024) }
    }

    /// `<tag>…</tag>` around whatever `f` writes.
    pub fn el(&mut self, tag: &str, f: impl FnOnce(&mut Xml)) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        f(self);
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    /// `<tag>text</tag>`, escaped.
    pub fn text(&mut self, tag: &str, value: impl Display) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        escape_into(&mut self.buf, &value.to_string());
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    /// `text` only when there is a value.
    pub fn opt(&mut self, tag: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.text(tag, v);
        }
        self
    }

    /// `<tag><item>…</item>…</tag>`; `item` is `item` for EC2, `member` for Query.
    pub fn list<T>(
        &mut self,
        tag: &str,
        item: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Xml, T),
    ) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>");
        for it in items {
            let _ = write!(self.buf, "<{item}>");
            f(self, it);
            let _ = write!(self.buf, "</{item}>");
        }
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

/// Escapes text for element content. Characters XML 1.0 cannot carry at all (NUL and
/// most C0 controls, U+FFFE/U+FFFF) — not even as a character reference such as
/// `&#0;`, which parsers reject too — become U+FFFD, the replacement character. Input
/// rules keep them out of stored state; this is defence in depth so one stored byte
/// can never make a response unparseable for every client. Replacing rather than
/// dropping keeps it visible that something was there.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            c if !shoal_model::text::is_xml_char(c) => out.push('\u{FFFD}'),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A parser turns a literal CR into LF (XML 1.0 §2.11); a reference keeps it.
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let mut x = Xml::new();
        x.el("Response", |x| {
            x.text("value", "a\0b\u{1}c\u{FFFE}\td\u{1F600}");
        });
        let doc = x.into_string();
        assert_eq!(
            doc,
            "<Response><value>a\u{FFFD}b\u{FFFD}c\u{FFFD}\td\u{1F600}</value></Response>"
        );
        // Every character is one XML 1.0 allows (tests/aws/test_limits.py parses real
        // responses with botocore's parser).
        assert!(shoal_model::text::is_xml_text(&doc));
    }

    #[test]
    fn writes_nested_escaped() {
        let mut x = Xml::new();
        x.el("a", |x| {
            x.text("b", "1 < 2 & \"q\"");
            x.list("set", "item", ["x", "y"], |x, v| {
                x.text("v", v);
            });
            x.opt("none", None::<&str>);
        });
        assert_eq!(
            x.into_string(),
            "<a><b>1 &lt; 2 &amp; &quot;q&quot;</b><set><item><v>x</v></item><item><v>y</v></item></set></a>"
        );
    }
}
