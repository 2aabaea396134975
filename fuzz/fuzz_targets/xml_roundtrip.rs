//! The XML writer: whatever text goes in, the document holds only characters XML 1.0
//! allows, parses (quick-xml), and gives the text back, each character XML cannot carry
//! replaced by U+FFFD.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use quick_xml::Reader;
use shoal::api::xml::Xml;

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fuzz_target!(|text: &str| {
    let mut x = Xml::new();
    x.el("Response", |x| {
        x.text("Value", text);
    });
    let doc = x.into_string();
    let mut reader = Reader::from_str(&doc);
    let mut got = String::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => got.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(c)) => got.push(c),
                Ok(None) => got.push(match &*r.xml10_content() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    other => panic!("unknown entity &{other}; in {doc:?}"),
                }),
                Err(e) => panic!("bad character reference in {doc:?}: {e}"),
            },
            Ok(Event::Eof) => break,
            Ok(e) => panic!("unexpected {e:?} in {doc:?}"),
            Err(e) => panic!("the writer wrote a document quick-xml cannot read: {e}: {doc:?}"),
        }
    }
    assert_eq!(depth, 0, "unbalanced {doc:?}");
    assert!(doc.chars().all(xml_char), "a character XML 1.0 cannot carry in {doc:?}");
    // What comes back is the text, with each character XML cannot carry replaced.
    let want: String = text.chars().map(|c| if xml_char(c) { c } else { '\u{FFFD}' }).collect();
    assert_eq!(got, want, "round trip of {doc:?}");
});
