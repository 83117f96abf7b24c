//! What the terminal can draw, asked at start-up: the kitty graphics query and the primary
//! device attributes (`ESC [ c`, whose reply lists sixel as attribute 4). Every terminal
//! answers the device attributes, after any earlier query, so its reply ends the wait; a
//! terminal that answers nothing is given up on at a deadline. Replies are consumed here
//! whole, split across reads or not, and keys typed meanwhile are set apart from them.

use std::io;
use std::time::{Duration, Instant};

/// Primary device attributes.
pub const DEVICE_ATTRIBUTES: &[u8] = b"\x1b[c";

/// How long start-up waits for all the terminal's replies together.
pub const DEADLINE: Duration = Duration::from_millis(200);

/// What the terminal answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replies {
    /// The kitty graphics reply's message (`OK`, or an error such as `EINVAL:…`).
    pub kitty: Option<String>,
    /// The device attributes, when they came.
    pub attributes: Option<Vec<u32>>,
    /// Bytes that are no reply (keys typed while waiting), in order.
    pub typed: Vec<u8>,
}

impl Replies {
    pub fn kitty_ok(&self) -> bool {
        self.kitty.as_deref().is_some_and(|m| m.starts_with("OK"))
    }

    pub fn sixel(&self) -> bool {
        self.attributes.as_ref().is_some_and(|a| a.contains(&4))
    }
}

/// Splits what the terminal sends into replies and typed bytes; fed as it arrives.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Vec<u8>,
    pub replies: Replies,
}

/// The longest reply taken in; a longer "reply" is no reply (and cannot grow without end).
const MAX_REPLY: usize = 4096;

impl Parser {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let mut i = 0;
        while i < self.pending.len() {
            match self.sequence_at(i) {
                Step::Incomplete => break,
                Step::Typed(n) => {
                    let end = i + n;
                    self.replies.typed.extend_from_slice(&self.pending[i..end]);
                    i = end;
                }
                Step::Reply(n) => i += n,
            }
        }
        self.pending.drain(..i);
    }

    /// The device attributes arrived: nothing more is coming.
    pub fn done(&self) -> bool {
        self.replies.attributes.is_some()
    }

    /// At the deadline: an unfinished sequence is no reply after all.
    pub fn finish(mut self) -> Replies {
        let rest = std::mem::take(&mut self.pending);
        self.replies.typed.extend_from_slice(&rest);
        self.replies
    }

    fn sequence_at(&mut self, i: usize) -> Step {
        let b = &self.pending[i..];
        if b[0] != 0x1b {
            return Step::Typed(1);
        }
        let Some(&kind) = b.get(1) else {
            return Step::Incomplete;
        };
        match kind {
            // APC: ESC _ … ESC \ ; kitty's reply is ESC _G<keys>;<message> ESC \.
            b'_' => match b.windows(2).position(|w| w == b"\x1b\\") {
                Some(end) => {
                    let body = &b[2..end];
                    if let Some(g) = body.strip_prefix(b"G") {
                        let text = String::from_utf8_lossy(g);
                        let message = text.split_once(';').map_or("", |(_, m)| m);
                        self.replies.kitty = Some(message.to_string());
                    }
                    Step::Reply(end + 2)
                }
                None if b.len() > MAX_REPLY => Step::Typed(1),
                None => Step::Incomplete,
            },
            // CSI: ESC [ params final; the device attributes are ESC [ ? n ; n … c.
            b'[' => {
                let Some(f) = b[2..].iter().position(|c| (0x40..=0x7e).contains(c)) else {
                    return if b.len() > MAX_REPLY {
                        Step::Typed(1)
                    } else {
                        Step::Incomplete
                    };
                };
                let end = 2 + f;
                if b[end] == b'c' && b.get(2) == Some(&b'?') {
                    let params = String::from_utf8_lossy(&b[3..end]);
                    self.replies.attributes =
                        Some(params.split(';').filter_map(|p| p.parse().ok()).collect());
                    Step::Reply(end + 1)
                } else {
                    // A key (an arrow is ESC [ A): typed.
                    Step::Typed(end + 1)
                }
            }
            _ => Step::Typed(1),
        }
    }
}

enum Step {
    /// The sequence at the start may be a reply still arriving.
    Incomplete,
    /// So many bytes are typed input.
    Typed(usize),
    /// So many bytes were a reply, now taken in.
    Reply(usize),
}

/// Where replies come from: the terminal, or bytes in a test.
pub trait ReplySource {
    /// Reads what is there within `timeout`; `Ok(0)` when nothing came.
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
}

/// Reads replies from `source` until the device attributes arrive or `deadline` has passed.
pub fn read_replies(source: &mut dyn ReplySource, deadline: Duration) -> io::Result<Replies> {
    let start = Instant::now();
    let mut parser = Parser::default();
    let mut buf = [0u8; 1024];
    while !parser.done() {
        let Some(left) = deadline.checked_sub(start.elapsed()) else {
            break;
        };
        match source.read_within(&mut buf, left)? {
            0 => break,
            n => parser.feed(&buf[..n]),
        }
    }
    Ok(parser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A terminal in memory: each read returns the next chunk; none left is silence.
    struct Chunks(VecDeque<Vec<u8>>);

    impl ReplySource for Chunks {
        fn read_within(&mut self, buf: &mut [u8], _: Duration) -> io::Result<usize> {
            let Some(c) = self.0.pop_front() else {
                return Ok(0);
            };
            buf[..c.len()].copy_from_slice(&c);
            Ok(c.len())
        }
    }

    fn read(chunks: &[&[u8]]) -> Replies {
        // An empty read would be silence: a split leaves none.
        let chunks = chunks.iter().filter(|c| !c.is_empty());
        let mut src = Chunks(chunks.map(|c| c.to_vec()).collect());
        read_replies(&mut src, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn a_kitty_terminal_answers_both_queries() {
        let r = read(&[b"\x1b_Gi=31;OK\x1b\\\x1b[?62;22c"]);
        assert!(r.kitty_ok() && !r.sixel());
        assert_eq!(r.attributes, Some(vec![62, 22]));
        assert!(r.typed.is_empty());
    }

    #[test]
    fn replies_split_anywhere_across_reads_are_read_whole() {
        let all: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1b[?63;1;4;22c";
        for cut in 1..all.len() {
            for cut2 in cut..all.len() {
                let r = read(&[&all[..cut], &all[cut..cut2], &all[cut2..]]);
                assert!(r.kitty_ok() && r.sixel(), "cut at {cut}, {cut2}: {r:?}");
                assert!(r.typed.is_empty(), "cut at {cut}, {cut2}: {:?}", r.typed);
            }
        }
    }

    #[test]
    fn keys_typed_meanwhile_are_set_apart_and_the_reply_still_read() {
        // j, an arrow key and Escape typed around the replies; xterm answers no kitty query.
        let r = read(&[b"j\x1b[A", b"\x1b[?6", b"3;4c", b"q"]);
        assert!(!r.kitty_ok() && r.kitty.is_none() && r.sixel());
        assert_eq!(
            r.typed,
            b"j\x1b[A".to_vec(),
            "what came after the reply is not read"
        );
        let r = read(&[b"\x1b", b"x\x1b[?1;2c"]);
        assert_eq!(r.typed, b"\x1bx".to_vec());
        assert_eq!(r.attributes, Some(vec![1, 2]));
    }

    #[test]
    fn a_kitty_error_is_no_support_and_a_silent_terminal_is_given_up_on() {
        let r = read(&[b"\x1b_Gi=31;EINVAL:bad\x1b\\\x1b[?1c"]);
        assert_eq!(r.kitty.as_deref(), Some("EINVAL:bad"));
        assert!(!r.kitty_ok());
        // Nothing at all: no attributes, nothing typed, and the wait ends.
        assert_eq!(read(&[]), Replies::default());
        // Half a reply, then silence: no attributes; the fragment is not kept as a reply.
        let r = read(&[b"\x1b[?6"]);
        assert_eq!(r.attributes, None);
        assert_eq!(r.typed, b"\x1b[?6".to_vec());
    }

    /// A terminal that never answers, in real time.
    struct Silent;

    impl ReplySource for Silent {
        fn read_within(&mut self, _: &mut [u8], timeout: Duration) -> io::Result<usize> {
            std::thread::sleep(timeout);
            Ok(0)
        }
    }

    #[test]
    fn the_wait_never_outlasts_the_deadline() {
        let t = Instant::now();
        let r = read_replies(&mut Silent, DEADLINE).unwrap();
        assert!(r.attributes.is_none());
        assert!(
            t.elapsed() < DEADLINE + Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
    }
}
