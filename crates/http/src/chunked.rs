//! An incremental decoder for the chunked transfer coding (RFC 9112 §7.1) of upstream response
//! bodies: chunk data comes out as shared slices of the read buffer; extensions and trailer fields
//! are read and dropped, each bounded so a hostile upstream cannot make a line grow without end.

use bytes::{Bytes, BytesMut};

/// The longest chunk-size line (size, extensions) accepted.
const MAX_LINE: usize = 4096;
/// The most trailer-section bytes accepted.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the chunk-size line: the size so far, how many hex digits, whether past them.
    Size {
        value: u64,
        digits: u32,
        past: bool,
    },
    SizeLf {
        value: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// In the trailer section: whether the current line is empty so far.
    Trailer {
        empty: bool,
    },
    TrailerLf {
        empty: bool,
    },
    Done,
}

/// What one decoding step produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Data(Bytes),
    /// The buffer holds no more to decode: read more.
    NeedMore,
    /// The last chunk and the trailer section have been read.
    Done,
}

#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    line: usize,
    trailers: usize,
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
                past: false,
            },
            line: 0,
            trailers: 0,
        }
    }

    /// Chunk bytes still owed by the current chunk (for a read-size hint).
    pub fn pending(&self) -> u64 {
        match self.state {
            State::Data(n) => n,
            _ => 0,
        }
    }

    /// Decodes from the front of `buf`, consuming what it uses.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, &'static str> {
        let mut used = 0;
        let result = loop {
            if let State::Data(rem) = self.state {
                let avail = buf.len() - used;
                if avail == 0 {
                    break Ok(Step::NeedMore);
                }
                let n = avail.min(usize::try_from(rem).unwrap_or(usize::MAX));
                let _ = buf.split_to(used);
                let data = buf.split_to(n).freeze();
                let rem = rem - n as u64;
                self.state = if rem == 0 {
                    State::DataCr
                } else {
                    State::Data(rem)
                };
                return Ok(Step::Data(data));
            }
            if self.state == State::Done {
                break Ok(Step::Done);
            }
            let Some(&b) = buf.get(used) else {
                break Ok(Step::NeedMore);
            };
            used += 1;
            if let Err(e) = self.byte(b) {
                break Err(e);
            }
        };
        let _ = buf.split_to(used.min(buf.len()));
        result
    }

    fn byte(&mut self, b: u8) -> Result<(), &'static str> {
        self.state = match self.state {
            State::Size {
                value,
                digits,
                past,
            } => {
                self.line += 1;
                if self.line > MAX_LINE {
                    return Err("chunk size line too long");
                }
                match b {
                    b'\r' if digits > 0 => State::SizeLf { value },
                    b'\r' => return Err("chunk size missing"),
                    _ if past => match b {
                        b'\n' => return Err("bare LF in chunk size line"),
                        0..=8 | 0x0a..=0x1f | 0x7f => {
                            return Err("control byte in chunk extension")
                        }
                        _ => State::Size {
                            value,
                            digits,
                            past,
                        },
                    },
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 16 {
                            return Err("chunk size too large");
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0);
                        State::Size {
                            value: value * 16 + u64::from(d),
                            digits: digits + 1,
                            past,
                        }
                    }
                    b';' | b' ' | b'\t' if digits > 0 => State::Size {
                        value,
                        digits,
                        past: true,
                    },
                    _ => return Err("invalid chunk size"),
                }
            }
            State::SizeLf { value } => {
                if b != b'\n' {
                    return Err("chunk size line not ended by CRLF");
                }
                self.line = 0;
                if value == 0 {
                    State::Trailer { empty: true }
                } else {
                    State::Data(value)
                }
            }
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::Size {
                value: 0,
                digits: 0,
                past: false,
            },
            State::DataCr | State::DataLf => return Err("chunk data not followed by CRLF"),
            State::Trailer { empty } => {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err("trailer section too large");
                }
                match b {
                    b'\r' => State::TrailerLf { empty },
                    b'\n' => return Err("bare LF in trailer section"),
                    _ => State::Trailer { empty: false },
                }
            }
            State::TrailerLf { empty } => {
                if b != b'\n' {
                    return Err("trailer line not ended by CRLF");
                }
                if empty {
                    State::Done
                } else {
                    State::Trailer { empty: true }
                }
            }
            State::Data(_) | State::Done => self.state,
        };
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes; returns the body and whether it ended.
    fn run(wire: &[u8], step: usize) -> Result<(Vec<u8>, bool, usize), &'static str> {
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = 0;
        for piece in wire.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            fed += piece.len();
            loop {
                match d.decode(&mut buf)? {
                    Step::Data(b) => out.extend_from_slice(&b),
                    Step::NeedMore => break,
                    Step::Done => return Ok((out, true, buf.len() + wire.len() - fed)),
                }
            }
        }
        Ok((out, false, buf.len()))
    }

    #[test]
    fn decodes_in_any_split() {
        let wire =
            b"5\r\nhello\r\n1;name=\"v\"\r\n \r\nA \t;x\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            let (body, done, left) = run(wire, step).unwrap();
            assert_eq!(body, b"hello 0123456789", "step {step}");
            assert!(done, "step {step}");
            assert_eq!(left, 4, "the bytes after the body stay: step {step}");
        }
    }

    #[test]
    fn stops_short_without_the_last_chunk() {
        let (body, done, _) = run(b"3\r\nabc\r\n", 1).unwrap();
        assert_eq!(body, b"abc");
        assert!(!done);
    }

    #[test]
    fn rejects_malformed_framing() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"3\nabc",
            b"3\r\nabcX\r\n",
            b"11111111111111111\r\n",
            b"-1\r\n",
            b"3;\x01\r\n",
            b"0\r\nx\n",
        ] {
            assert!(run(bad, 1).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = format!("1;{}\r\n", "e".repeat(MAX_LINE));
        assert!(run(long.as_bytes(), 64).is_err());
        let trailers = format!("0\r\n{}\r\n\r\n", "t".repeat(MAX_TRAILERS));
        assert!(run(trailers.as_bytes(), 64).is_err());
    }

    #[test]
    fn the_largest_sizes_do_not_overflow() {
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\nab"[..]);
        assert_eq!(
            d.decode(&mut buf).unwrap(),
            Step::Data(Bytes::from_static(b"ab"))
        );
        assert_eq!(d.pending(), u64::MAX - 2);
    }
}
