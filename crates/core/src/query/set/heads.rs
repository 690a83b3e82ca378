//! The first test of a token of an ASCII text in the prefilter: whether any pattern can start
//! with its first three bytes. Most tokens of a news text start no pattern, and this check
//! costs a table look-up instead of a walk of the automaton.

use super::TOKEN_END;

/// How many codes a byte of a head has: `TOKEN_END` (and any separator), ten digits and 26
/// letters.
const RADIX: usize = 37;

/// The code of each byte in a head: 1 to 36 for an ASCII digit or letter (upper-case read as
/// lower-case), 0 for every other byte, which separates tokens in an ASCII text.
const CODES: [u8; 256] = {
    let mut codes = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        codes[byte] = if b.is_ascii_digit() {
            b - b'0' + 1
        } else if b.is_ascii_lowercase() {
            b - b'a' + 11
        } else if b.is_ascii_uppercase() {
            b - b'A' + 11
        } else {
            0
        };
        byte += 1;
    }
    codes
};

/// Whether `byte` is part of a token in an ASCII text (a letter or digit): the bytes with a
/// code. `token_mask` tests eight at a time and must agree with this.
pub(super) fn is_token_byte(byte: u8) -> bool {
    CODES[usize::from(byte)] != 0
}

/// The set of three-byte heads that some pattern can start a token of an ASCII text with.
#[derive(Debug, Clone)]
pub(super) struct Heads {
    /// One bit per head `(c0 * RADIX + c1) * RADIX + c2`, where `c1` is 0 for a one-byte
    /// token and `c2` for a token of at most two bytes.
    bits: Vec<u64>,
    /// The first bytes of the words that have a head (words of ASCII letters and digits), as
    /// the patterns write them, sorted and each once.
    firsts: Vec<u8>,
}

impl Heads {
    /// The heads of `patterns` (as `QuerySet` builds them: `TOKEN_END`, a word, and another
    /// `TOKEN_END` unless the word is a prefix). A pattern that does not start with
    /// `TOKEN_END` (CJK) or holds a byte that is no ASCII letter or digit cannot occur in an
    /// ASCII text and has no head.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a [u8]>) -> Heads {
        let mut heads = Heads {
            bits: vec![0; (RADIX * RADIX * RADIX).div_ceil(64)],
            firsts: Vec::new(),
        };
        for pattern in patterns {
            let Some(rest) = pattern.strip_prefix(&[TOKEN_END]) else {
                continue;
            };
            let (word, prefix) = match rest.strip_suffix(&[TOKEN_END]) {
                Some(word) => (word, false),
                None => (rest, true),
            };
            if word.is_empty() || !word.iter().all(|&byte| is_token_byte(byte)) {
                continue;
            }
            if let Err(at) = heads.firsts.binary_search(&word[0]) {
                heads.firsts.insert(at, word[0]);
            }
            let code = |index: usize| word.get(index).map_or(0, |&byte| CODES[usize::from(byte)]);
            let (c0, c1, c2) = (code(0), code(1), code(2));
            // A prefix shorter than three bytes goes on with any byte, or ends the token.
            let seconds = if prefix && word.len() < 2 {
                0..RADIX as u8
            } else {
                c1..c1 + 1
            };
            for c1 in seconds {
                let thirds = if prefix && word.len() < 3 {
                    0..RADIX as u8
                } else {
                    c2..c2 + 1
                };
                for c2 in thirds {
                    let head = head(c0, c1, c2);
                    heads.bits[head / 64] |= 1 << (head % 64);
                }
            }
        }
        heads
    }

    /// Calls `on_start`, in order, with the offset of the first byte of tokens of the ASCII
    /// text `text`: at least every token that begins with the first byte of a word in
    /// `firsts`, the only tokens the automaton can find a pattern in (it reads bytes as they
    /// are). When those words begin with at most three different bytes (all the topics
    /// together have a few words, as a one-word topic does), exactly those tokens: the bytes
    /// are searched for with `memchr`, which skips the other tokens many bytes at a time.
    /// Otherwise every token's start.
    pub fn for_each_candidate(&self, text: &[u8], mut on_start: impl FnMut(usize)) {
        let if_token_start = |at: usize| {
            if at == 0 || !is_token_byte(text[at - 1]) {
                on_start(at);
            }
        };
        match *self.firsts.as_slice() {
            [] => {}
            [a] => memchr::memchr_iter(a, text).for_each(if_token_start),
            [a, b] => memchr::memchr2_iter(a, b, text).for_each(if_token_start),
            [a, b, c] => memchr::memchr3_iter(a, b, c, text).for_each(if_token_start),
            _ => for_each_token_start(text, on_start),
        }
    }

    /// Whether some pattern can start the token that starts at `start` in the ASCII text
    /// `text`.
    pub fn may_start(&self, text: &[u8], start: usize) -> bool {
        let code = |index: usize| text.get(index).map_or(0, |&byte| CODES[usize::from(byte)]);
        let c1 = code(start + 1);
        // After a separator, the token has ended: the third byte is no part of it.
        let c2 = code(start + 2) * u8::from(c1 != 0);
        let head = head(code(start), c1, c2);
        self.bits[head / 64] & 1 << (head % 64) != 0
    }
}

fn head(c0: u8, c1: u8, c2: u8) -> usize {
    (usize::from(c0) * RADIX + usize::from(c1)) * RADIX + usize::from(c2)
}

/// Calls `on_start` with the offset of every token's first byte in the ASCII text `text` (or
/// text whose other bytes separate tokens), in order. Works 64 bytes at a time: a mask of the token bytes, then the starts from its bits.
pub(super) fn for_each_token_start(text: &[u8], mut on_start: impl FnMut(usize)) {
    let mut previous_in_token = false;
    let mut on_block = |block: usize, in_token: u64, len: usize| {
        let mut starts = in_token & !(in_token << 1 | u64::from(previous_in_token));
        previous_in_token = in_token >> (len - 1) & 1 == 1;
        while starts != 0 {
            on_start(block * 64 + starts.trailing_zeros() as usize);
            starts &= starts - 1;
        }
    };
    let blocks = text.chunks_exact(64);
    let rest = blocks.remainder();
    let n_blocks = blocks.len();
    for (block, chunk) in blocks.enumerate() {
        let chunk: &[u8; 64] = chunk.try_into().expect("chunks of 64 bytes");
        on_block(block, token_mask(chunk), 64);
    }
    if !rest.is_empty() {
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        on_block(n_blocks, token_mask(&last), rest.len());
    }
}

/// Bit `i` set when `block[i]` is part of a token: eight bytes at a time in a `u64` (no
/// `unsafe` for SIMD here). A byte outside ASCII (of a dash or quotation mark between ASCII
/// words) is never part of one: the sums below work on the low seven bits of each byte, so
/// none carries into the next, and such bytes are masked out after.
fn token_mask(block: &[u8; 64]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x8080_8080_8080_8080;
    // Each byte's top bit: whether the byte is at least `bound`.
    let at_least = |word: u64, bound: u8| word + ONES * u64::from(0x80 - bound);
    let mut mask = 0;
    for (index, chunk) in block.chunks_exact(8).enumerate() {
        let raw = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let word = raw & !TOP;
        let lower = word | (ONES * 0x20);
        let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
        let digit = at_least(word, b'0') & !at_least(word, b'9' + 1);
        // Gathers the eight top bits into the top byte, byte 0's bit lowest.
        let bits = ((letter | digit) & TOP & !raw).wrapping_mul(0x0002_0408_1020_4081) >> 56;
        mask |= bits << (8 * index);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(word: &str, prefix: bool) -> Vec<u8> {
        let mut pattern = vec![TOKEN_END];
        pattern.extend_from_slice(word.as_bytes());
        if !prefix {
            pattern.push(TOKEN_END);
        }
        pattern
    }

    fn starts(text: &str) -> Vec<usize> {
        let mut starts = Vec::new();
        for_each_token_start(text.as_bytes(), |start| starts.push(start));
        starts
    }

    #[test]
    fn token_starts_are_where_letters_and_digits_follow_a_separator() {
        assert_eq!(starts(""), Vec::<usize>::new());
        assert_eq!(starts("a"), vec![0]);
        assert_eq!(starts(" U.S. x86-64!"), vec![1, 3, 6, 10]);
        // Across the 64-byte blocks: a token that spans two blocks starts once.
        let long = format!("{} {}", "a".repeat(70), "b".repeat(63));
        assert_eq!(starts(&long), vec![0, 71]);
        let edge = format!("{} b", "a".repeat(63));
        assert_eq!(starts(&edge), vec![0, 64]);
        let text: String = (0..300)
            .map(|i| if i % 7 == 0 { ' ' } else { 'x' })
            .collect();
        let expected: Vec<usize> = (0..300).filter(|i| i % 7 == 1).collect();
        assert_eq!(starts(&text), expected);
    }

    #[test]
    fn candidates_are_the_token_starts_with_a_words_first_byte() {
        let mut rng = fastrand::Rng::with_seed(11);
        let letters = b"abstx09SA";
        let alphabet = b"abstx09SA .-\xc3\xa9";
        for round in 0..3000 {
            // One to five words (with at most three different first bytes, which three rounds
            // in five and some others have, the first bytes are searched for; with more,
            // every token start is given), and patterns that have no head: a CJK word, a
            // word with a byte that is not an ASCII letter or digit.
            let words: Vec<Vec<u8>> = (0..1 + round % 5)
                .map(|_| {
                    (0..rng.usize(1..4))
                        .map(|_| letters[rng.usize(..letters.len())])
                        .collect()
                })
                .collect();
            let mut patterns: Vec<Vec<u8>> = words
                .iter()
                .map(|word| pattern(std::str::from_utf8(word).unwrap(), rng.bool()))
                .collect();
            patterns.push("北朝鮮".as_bytes().to_vec());
            patterns.push(pattern("café", false));
            patterns.push(pattern("x-1", true));
            let heads = Heads::new(patterns.iter().map(Vec::as_slice));
            let text: Vec<u8> = (0..rng.usize(0..200))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let mut expected = Vec::new();
            for_each_token_start(&text, |start| {
                if words.iter().any(|word| word[0] == text[start]) {
                    expected.push(start);
                }
            });
            let mut found = Vec::new();
            heads.for_each_candidate(&text, |start| found.push(start));
            if heads.firsts.len() > 3 {
                // Every token start is given: this checks only that none is missing.
                found.retain(|&start| words.iter().any(|word| word[0] == text[start]));
            }
            assert_eq!(found, expected, "{words:?} in {text:?}");
        }
    }

    #[test]
    fn the_token_mask_agrees_with_the_byte_test() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut block = [0u8; 64];
        for round in 0..2000 {
            for byte in &mut block {
                // Every byte, and the edges of the ranges often (with the top bit set too:
                // the bytes of a dash or a quotation mark outside ASCII).
                *byte = if round % 3 == 0 {
                    rng.u8(..)
                } else if round % 3 == 1 {
                    rng.u8(..0x80)
                } else {
                    *[
                        b'/', b'0', b'9', b':', b'@', b'A', b'Z', b'[', b'`', b'a', b'z', b'{',
                    ]
                    .get(rng.usize(..12))
                    .expect("in range")
                };
            }
            let expected = block.iter().enumerate().fold(0u64, |mask, (bit, &byte)| {
                mask | u64::from(is_token_byte(byte)) << bit
            });
            assert_eq!(token_mask(&block), expected, "{block:?}");
        }
    }

    #[test]
    fn heads_admit_every_token_a_pattern_can_start() {
        let patterns = [
            pattern("missile", false),
            pattern("us", false),
            pattern("n", false),
            pattern("sat", true),
            pattern("ab", true),
            pattern("x", true),
            "北朝鮮".as_bytes().to_vec(),
            pattern("café", false),
        ];
        let heads = Heads::new(patterns.iter().map(Vec::as_slice));
        let may = |text: &str| heads.may_start(text.as_bytes(), 0);
        for text in [
            "missile",
            "MISSILE",
            "us",
            "US.",
            "n",
            "N.K.",
            "sat",
            "satellite",
            "ab",
            "abc",
            "x",
            "xylophone",
            "x1",
            // Only the head is looked at: these share one with a pattern.
            "missiles",
            "miss",
        ] {
            assert!(may(text), "{text:?} should pass");
        }
        for text in [
            "use", "no", "sa", "sale", "a", "a b", "b", "caf", "cafe", "u s",
        ] {
            assert!(!may(text), "{text:?} should be ruled out");
        }
    }
}
