//! Folding and tokenizing: how the matcher sees text. `fold` makes two spellings compare
//! equal (NFKC, case, Latin and Greek diacritics, invisible characters); `tokenize` and
//! `for_each_token` split text into words, with runs of Chinese, Japanese and Korean, and of
//! the South-East Asian scripts written without spaces between words (Thai, Lao, Khmer,
//! Myanmar, and the Tai scripts), kept as one token each and matched by substring. This module calls all of them
//! "CJK runs".

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word-like token of a text, as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded form (see `fold`); never empty.
    pub folded: String,
    /// Byte range of the token in the original (unfolded) text.
    pub start: usize,
    pub end: usize,
    /// True for a CJK run (Han, Hiragana, Katakana, Hangul, or Thai, Lao, Khmer, Myanmar),
    /// matched by substring.
    pub cjk: bool,
}

/// Folds a string for comparison: NFKC, lower-case (case-folded), Latin and Greek diacritics
/// removed, ł ø đ ħ ı æ œ þ ŀ spelled in ASCII, soft hyphens, variation selectors and Arabic
/// vowel signs dropped.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    fold_into(text, &mut folded);
    folded
}

/// Like `fold`, but appends to `out` (lets callers keep every folded token in one buffer).
pub fn fold_into(text: &str, out: &mut String) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_lowercase();
        return;
    }
    let mut lowered = String::with_capacity(text.len());
    // NFKC would turn ŀ into l and a middle dot, which is punctuation: map it first.
    let text = text.chars().map(|c| match c {
        'ŀ' | 'Ŀ' => 'l',
        _ => c,
    });
    for c in text.nfkc().filter(|&c| !is_invisible_in_fold(c)) {
        for lower in c.to_lowercase() {
            match lower {
                'ß' => lowered.push_str("ss"),
                // Case folding maps the final sigma to the ordinary one.
                'ς' => lowered.push('σ'),
                // Latin letters with a stroke or ligatures have no decomposition to strip.
                'ł' => lowered.push('l'),
                'ø' => lowered.push('o'),
                'đ' => lowered.push('d'),
                'ħ' => lowered.push('h'),
                'ı' => lowered.push('i'),
                'æ' => lowered.push_str("ae"),
                'œ' => lowered.push_str("oe"),
                'þ' => lowered.push_str("th"),
                _ => lowered.push(lower),
            }
        }
    }
    // Hangul, kana, Han and the unspaced scripts never decompose to Latin combining marks:
    // skip the round trip.
    if lowered.chars().all(|c| c.is_ascii() || is_run_script(c)) {
        out.push_str(&lowered);
        return;
    }
    // Only Latin and Greek letters lose their marks; elsewhere a mark makes another letter
    // (Cyrillic й is not и). A mark with no letter before it is dropped.
    let mut base_is_latin_or_greek = true;
    let without_marks = lowered.nfd().filter(|&c| {
        if !is_combining_mark(c) {
            base_is_latin_or_greek = is_latin_or_greek(c);
            return true;
        }
        !(base_is_latin_or_greek && ('\u{300}'..='\u{36F}').contains(&c))
    });
    out.extend(without_marks.nfc());
}

/// Splits text into tokens (see `Token`). A token that folds to nothing (a stray combining
/// mark, Arabic vowel signs alone) is left out: it has nothing to match.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_token(text, |range, cjk| {
        let folded = fold(&text[range.clone()]);
        if !folded.is_empty() {
            tokens.push(Token {
                folded,
                start: range.start,
                end: range.end,
                cjk,
            })
        }
    });
    tokens
}

/// Calls `on_token` with the byte range of every token of `text` (unfolded) and whether it is a
/// CJK run, in order. `tokenize` is this plus `fold` (and leaving out tokens that fold to
/// nothing); the matcher uses it to fold into one buffer instead of one string per token.
/// Soft hyphens and variation selectors do not split a token.
pub fn for_each_token(text: &str, mut on_token: impl FnMut(Range<usize>, bool)) {
    // The token being built: its start and whether it is a CJK run.
    let mut current: Option<(usize, bool)> = None;
    for (offset, c) in text.char_indices() {
        let class = classify(c);
        match (class, current) {
            (CharClass::Mark, Some(_)) => {}
            (CharClass::Cjk, Some((_, true))) | (CharClass::Word, Some((_, false))) => {}
            (CharClass::Cjk | CharClass::Word, _) => {
                if let Some((start, cjk)) = current {
                    on_token(start..offset, cjk);
                }
                current = Some((offset, class == CharClass::Cjk));
            }
            (CharClass::Mark | CharClass::Separator, _) => {
                if let Some((start, cjk)) = current.take() {
                    on_token(start..offset, cjk);
                }
            }
        }
    }
    if let Some((start, cjk)) = current {
        on_token(start..text.len(), cjk);
    }
}

/// Whether `text` is ASCII, or its only other characters separate tokens: then its tokens
/// are its runs of ASCII letters and digits (`ascii_words`), each its own folded form once
/// lower-cased.
pub fn words_are_ascii(text: &str) -> bool {
    // Only the characters outside ASCII need a look. Blocks of ASCII are passed over with the
    // word-at-a-time `is_ascii`. Every block starts at a character boundary: after a block of
    // ASCII, or after a whole character.
    const BLOCK: usize = 64;
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let block = &bytes[at..bytes.len().min(at + BLOCK)];
        if block.is_ascii() {
            at += block.len();
            continue;
        }
        let offset = block
            .iter()
            .position(|byte| !byte.is_ascii())
            .expect("a block that is not ASCII");
        let c = text[at + offset..]
            .chars()
            .next()
            .expect("a character starts at the first byte outside ASCII after a boundary");
        if !separates_tokens(c) {
            return false;
        }
        at += offset + c.len_utf8();
    }
    true
}

/// The tokens of text whose words are ASCII (`words_are_ascii`), as `for_each_token` finds
/// them: its runs of ASCII letters and digits, as written.
pub fn ascii_words(text: &str) -> impl Iterator<Item = &str> {
    // Read byte by byte: a word starts at an ASCII byte and ends before one (or at the end),
    // so both are character boundaries.
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + bytes[at..].iter().position(u8::is_ascii_alphanumeric)?;
        let len = bytes[start..]
            .iter()
            .position(|byte| !byte.is_ascii_alphanumeric())
            .unwrap_or(bytes.len() - start);
        at = start + len;
        Some(&text[start..at])
    })
}

/// Whether `c` only separates tokens (a space, a dash, a quotation mark, a symbol): text whose
/// only characters outside ASCII do that has the tokens of its ASCII letters and digits,
/// each folded to its lower case.
pub fn separates_tokens(c: char) -> bool {
    classify(c) == CharClass::Separator
}

/// What a character does in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    /// A letter or digit of a spaced script.
    Word,
    /// A character of a CJK run: Chinese, Japanese, Korean, or an unspaced script of
    /// South-East Asia.
    Cjk,
    /// A combining mark: it extends the token before it, if any.
    Mark,
    /// Anything else: spaces, punctuation, symbols.
    Separator,
}

#[inline]
fn classify(c: char) -> CharClass {
    if c.is_ascii_alphanumeric() {
        CharClass::Word
    } else if c.is_ascii() {
        CharClass::Separator
    } else {
        classify_non_ascii(c)
    }
}

fn classify_non_ascii(c: char) -> CharClass {
    // An invisible soft hyphen joins the parts of a word, like a combining mark.
    if c == '\u{AD}' {
        return CharClass::Mark;
    }
    let alphanumeric = c.is_alphanumeric();
    let mark = !alphanumeric && is_combining_mark(c);
    if is_run_script(c) && (alphanumeric || mark || ('\u{3300}'..='\u{3357}').contains(&c)) {
        CharClass::Cjk
    } else if alphanumeric {
        CharClass::Word
    } else if mark {
        CharClass::Mark
    } else {
        CharClass::Separator
    }
}

/// True for characters in the Han, kana and Hangul blocks, and in the blocks of the scripts
/// written without spaces between words (letters and punctuation alike). Text in those is
/// one run between spaces or punctuation, so a word of it can only be found inside the run.
fn is_run_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0E7F       // Thai
        | 0x0E80..=0x0EFF     // Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1100..=0x11FF     // Hangul Jamo
        | 0x1780..=0x17FF     // Khmer
        | 0x1980..=0x19DF     // New Tai Lue
        | 0x1A20..=0x1AAF     // Tai Tham
        | 0x3005..=0x3007     // 々 〆 〇
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3130..=0x318F     // Hangul Compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana Phonetic Extensions
        | 0x3300..=0x33FF     // CJK Compatibility (squared katakana words)
        | 0x3400..=0x4DBF     // Han, extension A
        | 0x4E00..=0x9FFF     // Han
        | 0xA960..=0xA97F     // Hangul Jamo Extended-A
        | 0xA9E0..=0xA9FF     // Myanmar Extended-B
        | 0xAA60..=0xAA7F     // Myanmar Extended-A
        | 0xAA80..=0xAADF     // Tai Viet
        | 0xAC00..=0xD7FF     // Hangul Syllables, Jamo Extended-B
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0xFF66..=0xFFDC     // Halfwidth Katakana and Hangul
        | 0x1B000..=0x1B16F   // Kana Supplement and Extended-A
        | 0x20000..=0x3134F // Han, extensions B to G and compatibility supplement
    )
}

/// True for letters of the Latin and Greek scripts (and ASCII), whose combining marks `fold`
/// removes.
fn is_latin_or_greek(c: char) -> bool {
    c.is_ascii()
        || matches!(c as u32,
            0x00C0..=0x02AF       // Latin-1 letters, Latin Extended-A and -B, IPA
            | 0x0370..=0x03FF     // Greek
            | 0x1D00..=0x1DBF     // Phonetic extensions
            | 0x1E00..=0x1FFF     // Latin Extended Additional, Greek Extended
            | 0x2C60..=0x2C7F     // Latin Extended-C
            | 0xA720..=0xA7FF     // Latin Extended-D
            | 0xAB30..=0xAB6F // Latin Extended-E
        )
}

/// Characters `fold` drops: soft hyphens, variation selectors (a glyph choice, as in
/// `葛\u{E0100}城`) and Arabic vowel signs (harakat), which most Arabic text leaves out.
fn is_invisible_in_fold(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{64B}'..='\u{652}'
        | '\u{670}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}'
    )
}
