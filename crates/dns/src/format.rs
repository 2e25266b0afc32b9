//! Answers printed the way `dig +short` prints them.

use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use std::fmt::Write as _;

/// What `dig +short` would print: one line per answer record, no trailing newline. TXT strings are
/// quoted and escaped like dig's (`"v=spf1 -all"`, `\"` and `\DDD`); names end with a dot.
pub fn format_short(msg: &Message) -> String {
    let mut lines = Vec::with_capacity(msg.answers.len());
    for record in &msg.answers {
        let mut line = String::new();
        match &record.data {
            RData::TXT(txt) => {
                let parts: Vec<String> = txt.txt_data.iter().map(|s| quote(s)).collect();
                line.push_str(&parts.join(" "));
            }
            // `write!` rather than `to_string`: a Display error must not panic.
            other => {
                let _ = write!(line, "{other}");
            }
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// One character-string, quoted as dig quotes it.
fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::MessageType;
    use hickory_proto::rr::rdata::{A, CNAME, MX, TXT};
    use hickory_proto::rr::{Name, Record};

    #[test]
    fn prints_like_dig() {
        let n = Name::from_ascii("www.example.com.").unwrap_or_default();
        let target = Name::from_ascii("example.com.").unwrap_or_default();
        let mut m = Message::new(1, MessageType::Response, hickory_proto::op::OpCode::Query);
        for data in [
            RData::CNAME(CNAME(target.clone())),
            RData::A(A::new(127, 0, 0, 1)),
            RData::MX(MX::new(
                10,
                Name::from_ascii("mail.example.").unwrap_or_default(),
            )),
            RData::TXT(TXT::from_bytes(vec![b"v=spf1 -all", b"say \"hi\"\x01"])),
        ] {
            m.add_answer(Record::from_rdata(n.clone(), 60, data));
        }
        assert_eq!(
            format_short(&m),
            "example.com.\n127.0.0.1\n10 mail.example.\n\"v=spf1 -all\" \"say \\\"hi\\\"\\001\""
        );
        assert_eq!(
            format_short(&Message::new(
                1,
                MessageType::Response,
                hickory_proto::op::OpCode::Query
            )),
            ""
        );
    }
}
