//! The one way text is cut to a length: by characters (feed fields, log lines, subjects,
//! explanations) or by terminal columns (tables). A cut never splits a character, and where a
//! reader sees the text, an ellipsis marks it. The only user of `unicode-width`.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Cuts `text` to its first `max` characters; says whether it did.
pub fn cut_chars(text: &mut String, max: usize) -> bool {
    // No character is shorter than a byte: a text of at most `max` bytes is not cut, and
    // nearly every feed field is far below the cap, so most calls end here without a walk.
    if text.len() <= max {
        return false;
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => {
            text.truncate(end);
            true
        }
        None => false,
    }
}

/// `text` in at most `max` characters (at least one), the last an ellipsis when it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let mut short = text.to_string();
    if short.char_indices().nth(max).is_some() {
        cut_chars(&mut short, max.max(1) - 1);
        short.push('…');
    }
    short
}

/// `text` in at most `max_width` terminal columns (CJK characters take two), the last an
/// ellipsis when it was cut.
pub fn fit_width(text: &str, max_width: usize) -> String {
    if text.width() <= max_width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut width = 0;
    for c in text.chars() {
        let char_width = c.width().unwrap_or(0);
        if width + char_width + 1 > max_width {
            break;
        }
        width += char_width;
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// How many terminal columns `text` takes (CJK characters two, combining marks none).
pub fn columns(text: &str) -> usize {
    text.width()
}

/// How many terminal columns `c` takes (control characters none).
pub fn char_columns(c: char) -> usize {
    c.width().unwrap_or(0)
}
