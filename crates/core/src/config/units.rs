//! Durations (`30s`, `1h30m`, `7d`) and sizes (`10MiB`) as the config writes them.

use super::*;

/// The longest duration the config takes anywhere: 100 years (36500d). Any time watchword
/// adds a configured duration to stays far inside what dates can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses a duration such as `30s`, `15m`, `1h30m`, `2d`; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number followed by s, m, h or d (like 30s, 15m, 1h30m)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds_per_unit = match rest[..unit_len].trim() {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            "" => {
                return Err(format!(
                    "invalid duration {text:?}: missing unit after {number} (s, m, h or d)"
                ));
            }
            unit => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {unit:?} (use s, m, h or d)"
                ));
            }
        };
        total = number
            .checked_mul(seconds_per_unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("invalid duration {text:?}: too large"))?;
        rest = &rest[unit_len..];
    }
    let duration = Duration::from_secs(total);
    if duration > MAX_DURATION {
        return Err(format!(
            "invalid duration {text:?}: too large (at most 36500d, 100 years)"
        ));
    }
    Ok(duration)
}

/// The largest size the config takes anywhere (`max_body`): 1 GiB.
pub const MAX_SIZE: u64 = 1024 * 1024 * 1024;

/// The value of the duration key `key` within `range` (both ends included), else `default`
/// and an error at the value that names the bound it crossed.
pub(super) fn compile_duration(
    key: &str,
    value: &Option<Spanned<String>>,
    default: Duration,
    range: std::ops::RangeInclusive<Duration>,
    sink: &mut Diagnostics<'_>,
) -> Duration {
    let Some(value) = value else { return default };
    match parse_duration(value.get_ref()) {
        Ok(duration) if range.contains(&duration) => duration,
        Ok(duration) => {
            let (min, max) = (*range.start(), *range.end());
            let message = if duration.is_zero() && min <= Duration::from_secs(1) {
                format!("{key} must be greater than zero")
            } else if duration < min {
                format!(
                    "{key} {} is below the minimum of {}",
                    format_duration(duration),
                    format_duration(min)
                )
            } else {
                format!(
                    "{key} {} is above the maximum of {}",
                    format_duration(duration),
                    format_duration(max)
                )
            };
            sink.error(value.span(), message);
            default
        }
        Err(message) => {
            sink.error(value.span(), message);
            default
        }
    }
}

/// Formats a duration the way the config writes it (`1h30m`, `45s`).
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Parses a size such as `10MiB`, `500 KB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "invalid size {text:?}: expected a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB)"
        ));
    }
    let number: u64 = text[..digits]
        .parse()
        .map_err(|_| format!("invalid size {text:?}: number too large"))?;
    let multiplier: u64 = match text[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1024,
        "mb" | "m" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "gb" | "g" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        unit => {
            return Err(format!(
                "invalid size {text:?}: unknown unit {unit:?} (use B, KB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}
