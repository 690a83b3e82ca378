//! The linear scanner behind `html_to_text` for the simple HTML most feeds carry
//! (paragraphs, links, emphasis, images, lists, common references): it gives exactly what the
//! HTML parser gives for that HTML, without building a tree, and declines (`None`) anything
//! else.

use super::*;

/// Elements the simple scanner reads (lower case), and whether each is a block (see
/// `is_block_element`). No element here changes how the parser treats the text inside it,
/// moves text elsewhere (tables do) or hides it.
fn simple_element(name: &[u8]) -> Option<SimpleElement> {
    let lower = |name: &[u8]| -> Option<[u8; 10]> {
        let mut buffer = [0_u8; 10];
        buffer.get_mut(..name.len())?.copy_from_slice(name);
        buffer.make_ascii_lowercase();
        Some(buffer)
    };
    let buffer = lower(name)?;
    let element = match &buffer[..name.len()] {
        b"a" => SimpleElement::A,
        b"p" => SimpleElement::P,
        b"li" => SimpleElement::Li,
        b"ul" | b"ol" => SimpleElement::List,
        b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" => SimpleElement::Heading,
        b"br" | b"img" | b"hr" => SimpleElement::Void,
        b"blockquote" | b"div" | b"figure" | b"figcaption" => SimpleElement::Block,
        b"b" | b"strong" | b"i" | b"em" | b"span" | b"small" | b"sup" | b"sub" | b"u" | b"s"
        | b"cite" | b"code" | b"abbr" | b"time" | b"mark" | b"q" | b"del" | b"ins" => {
            SimpleElement::Inline
        }
        _ => return None,
    };
    Some(element)
}

/// How the HTML parser treats an element of the simple scanner's set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimpleElement {
    /// `<a>`: a second one inside it closes the first.
    A,
    /// `<p>`: many block starts close it.
    P,
    /// `<li>`: another one closes it unless a list is open in between.
    Li,
    /// `<ul>`, `<ol>`: a block that closes an open `<p>`.
    List,
    /// `<h1>`…`<h6>`: closes an open `<p>`, and another heading inside it closes it.
    Heading,
    /// `<blockquote>`, `<div>`, `<figure>`, `<figcaption>`: close an open `<p>`.
    Block,
    /// `<br>`, `<img>`, `<hr>`: no contents, no end tag (`<hr>` closes an open `<p>`).
    Void,
    /// Phrasing elements (`<b>`, `<em>`, `<span>`, …).
    Inline,
}

/// HTML to text by a linear scan, for the HTML that feeds mostly carry, giving exactly what
/// `render` gives for the parsed fragment. `None` when the text has anything whose parsing
/// this does not follow: another element, a comment or doctype, a tag that the parser would
/// close, reopen or move (misnested or implied end tags, a block in a `<p>`, an `<a>` in an
/// `<a>`), a self-closing non-void tag, an odd attribute, a reference other than a numeric one
/// to an ordinary character or a name `decode_reference` knows, written with its `;`, or a
/// NUL. With `tags` false every `<` is text and only references are decoded.
/// `html_to_text_fast_path_agrees_with_the_parser` compares the two on random markup.
pub(super) fn simple_to_text(html: &str, tags: bool) -> Option<String> {
    let bytes = html.as_bytes();
    let mut raw = Collapsed::with_capacity(html.len());
    let mut open: Vec<(SimpleElement, &[u8])> = Vec::new();
    let mut index = 0;
    loop {
        // Copy the text up to the next `<`, `&` or NUL.
        let next = if tags {
            memchr::memchr3(b'&', 0, b'<', &bytes[index..])
        } else {
            memchr::memchr2(b'&', 0, &bytes[index..])
        }
        .map(|offset| index + offset);
        let Some(at) = next else {
            raw.push_str(&html[index..]);
            break;
        };
        raw.push_str(&html[index..at]);
        match bytes[at] {
            0 => return None,
            b'&' => {
                let rest = &bytes[at + 1..];
                match rest.first() {
                    Some(b'#') => {
                        let (c, len) = simple_numeric_reference(&rest[1..])?;
                        raw.push(c);
                        index = at + 2 + len;
                    }
                    Some(byte) if byte.is_ascii_alphanumeric() => {
                        let name_len = rest
                            .iter()
                            .take_while(|b| b.is_ascii_alphanumeric())
                            .count();
                        if rest.get(name_len) != Some(&b';') || name_len > MAX_REFERENCE_LEN {
                            return None;
                        }
                        let name = std::str::from_utf8(&rest[..name_len]).ok()?;
                        raw.push(decode_reference(name)?);
                        index = at + 2 + name_len;
                    }
                    // `&` before anything else is text.
                    _ => {
                        raw.push('&');
                        index = at + 1;
                    }
                }
            }
            _ => {
                let rest = &bytes[at + 1..];
                let closing = rest.first() == Some(&b'/');
                let name_start = usize::from(closing);
                match rest.get(name_start) {
                    Some(byte) if byte.is_ascii_alphabetic() => {}
                    // `<` before a space, a digit, … is text; `<!`, `<?` and `</` without a
                    // name are not.
                    Some(_) if !closing && !matches!(rest[0], b'!' | b'?') => {
                        raw.push('<');
                        index = at + 1;
                        continue;
                    }
                    _ => return None,
                }
                let name_len = rest[name_start..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>'))
                    .count();
                let name = &rest[name_start..name_start + name_len];
                let element = simple_element(name)?;
                let (end, self_closing) = simple_tag_end(rest, name_start + name_len)?;
                index = at + 1 + end + 1;
                if closing {
                    if self_closing || element == SimpleElement::Void {
                        return None;
                    }
                    let (top, top_name) = open.pop()?;
                    if top != element || !top_name.eq_ignore_ascii_case(name) {
                        return None;
                    }
                } else {
                    let p_open = open.iter().any(|(e, _)| *e == SimpleElement::P);
                    let closes_p = match element {
                        SimpleElement::A | SimpleElement::Inline => false,
                        SimpleElement::Void => name.eq_ignore_ascii_case(b"hr"),
                        _ => true,
                    };
                    let implied_close = match element {
                        SimpleElement::A => open.iter().any(|(e, _)| *e == SimpleElement::A),
                        SimpleElement::Heading => {
                            open.iter().any(|(e, _)| *e == SimpleElement::Heading)
                        }
                        SimpleElement::Li => open
                            .iter()
                            .rev()
                            .take_while(|(e, _)| *e != SimpleElement::List)
                            .any(|(e, _)| *e == SimpleElement::Li),
                        _ => false,
                    };
                    if (closes_p && p_open) || implied_close {
                        return None;
                    }
                    if element == SimpleElement::Void {
                        // `<br/>` and `<br>` alike.
                    } else if self_closing {
                        return None;
                    } else {
                        open.push((element, name));
                        if open.len() > MAX_PARSED_DEPTH {
                            return None;
                        }
                    }
                }
                // Every element of the set but `<a>` and phrasing ones is a block.
                if !matches!(element, SimpleElement::A | SimpleElement::Inline) {
                    raw.push(' ');
                }
            }
        }
    }
    Some(raw.finish())
}

/// The character and length (digits and `;`) of a numeric reference after its `&#`, when it
/// is an ordinary character the parser passes through as it is (not NUL, a C1 control, a
/// surrogate, a noncharacter or beyond Unicode) and ends with `;`.
fn simple_numeric_reference(rest: &[u8]) -> Option<(char, usize)> {
    let (digits, radix, prefix) = match rest.first() {
        Some(b'x' | b'X') => (&rest[1..], 16, 1),
        _ => (rest, 10, 0),
    };
    let n_digits = digits
        .iter()
        .take_while(|b| (**b as char).is_digit(radix))
        .count();
    if n_digits == 0 || n_digits > 7 || digits.get(n_digits) != Some(&b';') {
        return None;
    }
    let text = std::str::from_utf8(&digits[..n_digits]).ok()?;
    let code = u32::from_str_radix(text, radix).ok()?;
    let ordinary = matches!(code,
        0x09 | 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0xFFFD)
        || (0x10000..=0x10FFFF).contains(&code) && code & 0xFFFE != 0xFFFE;
    if !ordinary {
        return None;
    }
    Some((char::from_u32(code)?, prefix + n_digits + 1))
}

/// Reads a tag's attributes from `from` (just after its name) in `rest` (what follows its
/// `<`): the index of its `>` and whether it ends with `/>`. `None` for attributes whose
/// parsing the scanner does not follow (a quote or `<` in a name or unquoted value, a stray
/// `/`, a tag that never ends).
fn simple_tag_end(rest: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut index = from;
    loop {
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        match rest[index] {
            b'>' => return Some((index, false)),
            b'/' => return (rest.get(index + 1) == Some(&b'>')).then_some((index + 1, true)),
            _ => {}
        }
        // An attribute name, then maybe `=` and a value.
        let name_len = rest[index..]
            .iter()
            .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>' | b'='))
            .count();
        if name_len == 0
            || rest[index..index + name_len]
                .iter()
                .any(|b| matches!(b, b'"' | b'\'' | b'<'))
        {
            return None;
        }
        index += name_len;
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        if rest[index] != b'=' {
            continue;
        }
        index += 1;
        while rest.get(index)?.is_ascii_whitespace() {
            index += 1;
        }
        match rest[index] {
            quote @ (b'"' | b'\'') => {
                let length = rest[index + 1..].iter().position(|&b| b == quote)?;
                index += 1 + length + 1;
                // The parser wants a space, `/` or `>` after a quoted value.
                if !rest
                    .get(index)
                    .is_some_and(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
                {
                    return None;
                }
            }
            b'>' => return None,
            _ => {
                let length = rest[index..]
                    .iter()
                    .take_while(|b| !b.is_ascii_whitespace() && **b != b'>')
                    .count();
                if rest[index..index + length]
                    .iter()
                    .any(|b| matches!(b, b'"' | b'\'' | b'<' | b'=' | b'`'))
                {
                    return None;
                }
                index += length;
            }
        }
    }
}
