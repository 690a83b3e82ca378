//! Feed bytes in any encoding → UTF-8 that feed-rs reads, and the repair of text that was
//! UTF-8 read twice. Pure.
//!
//! The order of evidence: a byte-order mark (UTF-8, UTF-16, UTF-32), the zero bytes of
//! UTF-16/32 without one, the XML declaration's `encoding`, the HTTP `charset`; with none
//! of them, or a claim of UTF-8 that the bytes break, the bytes themselves: valid UTF-8 with
//! a few bad bytes is UTF-8 (the bad bytes replaced), anything else is what `chardetng`
//! (the detector Firefox uses) guesses.

use std::borrow::Cow;

use encoding_rs::Encoding;

/// Returns UTF-8 bytes for input feed-rs cannot read as it is. UTF-8 that is valid passes
/// through untouched.
pub fn to_utf8<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, [u8]> {
    if let Some(text) = decode_utf32(bytes) {
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        if encoding == encoding_rs::UTF_8 {
            return utf8_or_repaired(body);
        }
        let (text, _) = encoding.decode_without_bom_handling(body);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    // UTF-16 without a BOM: `<` followed by a zero byte, or the other way round.
    if bytes.len() >= 4 && bytes[0] == b'<' && bytes[1] == 0 {
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] == b'<' {
        let (text, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    let declared = declared_encoding(bytes);
    // Decoded here, not by feed-rs: quick-xml switches to the declared encoding only while
    // the declaration is within the document's first 64 bytes, and knows fewer labels.
    // UTF-16 declared in ASCII-compatible bytes is read as UTF-8.
    let declared_known = declared.as_deref().and_then(encoding_for_label);
    if let Some(encoding) = declared_known
        && encoding.output_encoding() != encoding_rs::UTF_8
    {
        let (text, _) = encoding
            .output_encoding()
            .decode_without_bom_handling(bytes);
        return Cow::Owned(strip_encoding_declaration(&text).into_bytes());
    }
    let header = charset.and_then(encoding_for_label);
    match (declared_known, header) {
        (None, Some(encoding)) if encoding.output_encoding() != encoding_rs::UTF_8 => {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            Cow::Owned(strip_encoding_declaration(&text).into_bytes())
        }
        // UTF-8 by declaration, header or default: unless the bytes say otherwise.
        _ => match utf8_or_repaired(bytes) {
            Cow::Borrowed(_) => match (declared, declared_known) {
                (None, _) => Cow::Borrowed(bytes),
                (Some(_), Some(encoding)) if encoding == encoding_rs::UTF_8 => Cow::Borrowed(bytes),
                // A label nobody knows, or UTF-16 claimed by ASCII bytes: read as the UTF-8
                // it is, the label dropped (quick-xml would follow it).
                (Some(_), _) => Cow::Owned(strip_encoding_declaration_bytes(bytes)),
            },
            Cow::Owned(text) => Cow::Owned(text),
        },
    }
}

/// `bytes` when they are valid UTF-8; else UTF-8 with its few bad bytes replaced (U+FFFD),
/// when the document is mostly valid multi-byte UTF-8; else the bytes decoded as the legacy
/// encoding `chardetng` finds.
fn utf8_or_repaired(bytes: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(bytes).is_ok() {
        return Cow::Borrowed(bytes);
    }
    let (valid_multibyte, invalid) = count_utf8(bytes);
    let text = if valid_multibyte > invalid {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(bytes, true);
        let encoding = detector.guess(None, false);
        encoding.decode_without_bom_handling(bytes).0.into_owned()
    };
    Cow::Owned(strip_encoding_declaration(&text).into_bytes())
}

/// How many valid multi-byte UTF-8 sequences and how many invalid bytes `bytes` hold.
fn count_utf8(mut bytes: &[u8]) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                valid += text.bytes().filter(|&b| b >= 0xC0).count();
                return (valid, invalid);
            }
            Err(error) => {
                let good = error.valid_up_to();
                valid += bytes[..good].iter().filter(|&&b| b >= 0xC0).count();
                invalid += 1;
                let skip = error.error_len().unwrap_or(bytes.len() - good);
                bytes = &bytes[good + skip..];
            }
        }
    }
}

/// UTF-32 text, by its byte-order mark or by the zero bytes around a leading `<`.
fn decode_utf32(bytes: &[u8]) -> Option<String> {
    let (big_endian, body) = if let Some(body) = bytes.strip_prefix(b"\x00\x00\xFE\xFF") {
        (true, body)
    } else if let Some(body) = bytes.strip_prefix(b"\xFF\xFE\x00\x00") {
        (false, body)
    } else if bytes.starts_with(b"\x00\x00\x00<") {
        (true, bytes)
    } else if bytes.starts_with(b"<\x00\x00\x00") {
        (false, bytes)
    } else {
        return None;
    };
    Some(
        body.chunks_exact(4)
            .map(|unit| {
                let unit = [unit[0], unit[1], unit[2], unit[3]];
                let code = if big_endian {
                    u32::from_be_bytes(unit)
                } else {
                    u32::from_le_bytes(unit)
                };
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
    )
}

/// The encoding a charset label names: the WHATWG labels `encoding_rs` knows, and the names
/// Windows, Java and Python use for the same encodings (`cp949`, `x-sjis`, `utf8`, …).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Some(encoding) = Encoding::for_label(label.as_bytes()) {
        return Some(encoding);
    }
    let lower = label.to_ascii_lowercase().replace('_', "-");
    let name = match lower.as_str() {
        "cp949" | "ms949" | "uhc" | "euckr" | "ks-c-5601" | "ksc5601-1987" => "euc-kr",
        "cp932" | "ms932" | "sjis" | "shift-jis" | "x-ms-cp932" | "mskanji" => "shift_jis",
        "eucjp" | "ujis" | "x-eucjp" => "euc-jp",
        "cp936" | "ms936" | "gb-2312" | "euc-cn" | "euccn" => "gbk",
        "cp950" | "ms950" | "big5hkscs" | "big-5" => "big5",
        "utf-8n" | "utf8mb4" | "utf-8-sig" => "utf-8",
        "latin-1" | "latin1" | "iso8859-1" | "iso-8859-1:1987" => "windows-1252",
        "koi8r" => "koi8-r",
        "koi8u" => "koi8-u",
        "tis620" | "cp874" => "windows-874",
        "cp1255" => "windows-1255",
        other => {
            // `iso8859-5` for `iso-8859-5`, `cp1250` for `windows-1250`.
            if let Some(number) = other.strip_prefix("iso8859-") {
                return Encoding::for_label(format!("iso-8859-{number}").as_bytes());
            }
            if let Some(number) = other.strip_prefix("cp125") {
                return Encoding::for_label(format!("windows-125{number}").as_bytes());
            }
            return None;
        }
    };
    Encoding::for_label(name.as_bytes())
}

/// The `encoding="…"` of an XML declaration, if the document starts with one.
pub fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let declaration = head.trim_start().strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let (quote, value) = if let Some(value) = after.strip_prefix('"') {
        ('"', value)
    } else {
        ('\'', after.strip_prefix('\'')?)
    };
    Some(value[..value.find(quote)?].to_string())
}

/// Removes `encoding="…"` from a leading XML declaration of text that is now UTF-8.
pub fn strip_encoding_declaration(text: &str) -> String {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        return format!("<?xml version=\"1.0\"?>{}", &rest[end + 2..]);
    }
    text.to_string()
}

fn strip_encoding_declaration_bytes(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("only called on valid UTF-8");
    strip_encoding_declaration(text).into_bytes()
}

/// Text that was UTF-8 decoded as windows-1252 or Latin-1 ("KÃ¶lner" for "Kölner"),
/// decoded right. Only when the whole text is such: every character is one windows-1252
/// byte, and those bytes are valid UTF-8 with at least one multi-byte sequence and no C1
/// control characters. Anything else is left alone.
pub fn repair_double_utf8(text: &str) -> Option<String> {
    // The lead bytes of two- to four-byte sequences read as windows-1252 are U+00C2 to
    // U+00F4, whose UTF-8 starts with the byte 0xC3: without one, nothing to repair.
    memchr::memchr(0xC3, text.as_bytes())?;
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        let code = c as u32;
        let byte = if code < 0x80 || (0xA0..=0xFF).contains(&code) {
            code as u8
        } else {
            windows_1252_byte(c)?
        };
        bytes.push(byte);
    }
    let repaired = String::from_utf8(bytes).ok()?;
    let sound = repaired != text && !repaired.chars().any(|c| ('\u{80}'..='\u{9F}').contains(&c));
    sound.then_some(repaired)
}

/// The windows-1252 byte (0x80–0x9F) of a character that windows-1252 maps there.
fn windows_1252_byte(c: char) -> Option<u8> {
    let mut buffer = [0u8; 4];
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buffer));
    match (&*bytes, unmappable) {
        ([byte], false) if (0x80..0xA0).contains(byte) => Some(*byte),
        _ => None,
    }
}
