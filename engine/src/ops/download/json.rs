//! Low-level JSON text output: strings (optionally ASCII-only, with their length in
//! UTF-16 code units, which is how JavaScript and the Dexie importer measure them),
//! numbers as JavaScript prints them, base64, ISO-8601 timestamps, decimals, and
//! re-emitting stored JSON text with the same escaping.

use crate::output::partition::civil_from_days;
use arrow_schema::TimeUnit;
use base64::Engine as _;
use std::io::Write as _;

/// The longest string (in UTF-16 code units, as JavaScript counts) that
/// dexie-export-import's importer reads: its JSON parser (clarinet) stops with
/// "Max buffer length exceeded" past `MAX_BUFFER_LENGTH` = 10 MiB.
pub const IMPORTER_MAX_STRING: usize = 10 * 1024 * 1024;

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u16_escape(out: &mut Vec<u8>, u: u16) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((u >> shift) & 0xf) as usize]);
    }
}

fn push_char_escape(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u16; 2];
    for u in c.encode_utf16(&mut buf) {
        push_u16_escape(out, *u);
    }
}

/// Appends `s` as a quoted JSON string. With `ascii`, every non-ASCII character is
/// written as `\uXXXX` (a surrogate pair above U+FFFF). Returns the string's length in
/// UTF-16 code units.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str, ascii: bool) -> usize {
    out.push(b'"');
    let b = s.as_bytes();
    let mut units = 0usize;
    let mut run = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        let plain = c >= 0x20 && c != b'"' && c != b'\\' && (c < 0x80 || !ascii);
        if plain {
            // UTF-16 units: one per character, two for 4-byte sequences.
            if !(0x80..0xC0).contains(&c) {
                units += 1;
                if c >= 0xF0 {
                    units += 1;
                }
            }
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[run..i]);
        if c < 0x80 {
            units += 1;
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                _ => push_u16_escape(out, u16::from(c)),
            }
            i += 1;
        } else {
            let ch = s[i..].chars().next().expect("a character starts here");
            units += ch.len_utf16();
            push_char_escape(out, ch);
            i += ch.len_utf8();
        }
        run = i;
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
    units
}

/// Copies JSON text (already valid, as stored in a JSON-text column), escaping the
/// non-ASCII characters of its strings when `ascii`. Returns the longest string's length
/// in UTF-16 code units (escapes counted as the one character they stand for).
pub(crate) fn copy_json(out: &mut Vec<u8>, text: &str, ascii: bool) -> usize {
    let b = text.as_bytes();
    if !ascii && !b.contains(&b'"') {
        out.extend_from_slice(b);
        return 0;
    }
    let mut longest = 0usize;
    let mut i = 0usize;
    let mut run = 0usize;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        // A string: measure it, and escape what it holds beyond ASCII.
        i += 1;
        let mut units = 0usize;
        while i < b.len() && b[i] != b'"' {
            let c = b[i];
            if c == b'\\' {
                units += 1;
                i += if b.get(i + 1) == Some(&b'u') { 6 } else { 2 };
                continue;
            }
            if c < 0x80 {
                units += 1;
                i += 1;
                continue;
            }
            let ch = text[i..].chars().next().expect("a character starts here");
            units += ch.len_utf16();
            if ascii {
                out.extend_from_slice(&b[run..i]);
                push_char_escape(out, ch);
                run = i + ch.len_utf8();
            }
            i += ch.len_utf8();
        }
        i += 1;
        longest = longest.max(units);
    }
    out.extend_from_slice(&b[run.min(b.len())..]);
    longest
}

/// Appends base64 (standard alphabet, padded) of `bytes`; returns its length.
pub(crate) fn write_b64(out: &mut Vec<u8>, bytes: &[u8]) -> usize {
    let n = b64_len(bytes.len());
    let start = out.len();
    out.resize(start + n, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("buffer sized for the encoding");
    debug_assert_eq!(written, n);
    n
}

/// Length of the padded base64 text of `n` bytes.
pub(crate) fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Appends an integer.
pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    let _ = write!(out, "{v}");
}

/// Appends a finite number as JavaScript's `Number.prototype.toString` prints it
/// (`0.1`, `100`, `1e+21`, `1.5e-7`), so that the text means the same double.
/// `-0` is written as `-0`, which JSON readers parse back to negative zero.
/// A number as plain JSON: as `JSON.stringify` writes it, but `-0` keeps its sign (valid
/// JSON, and `JSON.parse` reads it back as -0). NaN and ±Infinity, which strict JSON
/// cannot spell, are `null` (as `JSON.stringify` writes them).
pub(crate) fn write_plain_number(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_js_number(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

pub(crate) fn write_js_number(out: &mut Vec<u8>, v: f64) {
    debug_assert!(v.is_finite());
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // Rust's `{:e}` gives the shortest digits that round-trip: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    if v < 0.0 {
        out.push(b'-');
    }
    if k <= n && n <= 21 {
        out.extend_from_slice(digits.as_bytes());
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.extend_from_slice(&digits.as_bytes()[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits.as_bytes()[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-n) as usize));
        out.extend_from_slice(digits.as_bytes());
    } else {
        out.push(digits.as_bytes()[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits.as_bytes()[1..]);
        }
        let _ = write!(out, "e{}{}", if n - 1 < 0 { '-' } else { '+' }, (n - 1).abs());
    }
}

/// The decimal text of an unscaled `v` with `scale` digits after the point.
pub(crate) fn decimal_text(v: i128, scale: i8) -> String {
    if scale <= 0 {
        let mut s = v.to_string();
        if v != 0 {
            s.extend(std::iter::repeat_n('0', (-scale) as usize));
        }
        return s;
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let (int, frac) = if digits.len() > scale {
        (digits[..digits.len() - scale].to_owned(), digits[digits.len() - scale..].to_owned())
    } else {
        ("0".to_owned(), format!("{digits:0>scale$}"))
    };
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// A timestamp in `unit` as a whole number of milliseconds (floored, as JavaScript's
/// Date holds it).
pub(crate) fn to_millis(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1000),
        TimeUnit::Millisecond => v,
        TimeUnit::Microsecond => v.div_euclid(1000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000),
    }
}

/// ISO-8601 in UTC as JavaScript's `Date.prototype.toISOString` writes it
/// (`2024-03-01T12:00:00.000Z`; years outside 0..=9999 as `±YYYYYY`), with 6 or 9
/// fraction digits for microsecond and nanosecond timestamps.
pub(crate) fn iso_text(v: i64, unit: TimeUnit) -> String {
    let (per_sec, digits): (i64, usize) = match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    };
    let secs = v.div_euclid(per_sec);
    let frac = v.rem_euclid(per_sec);
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.abs())
    };
    let frac = match digits {
        0 => ".000".to_owned(),
        3 => format!(".{frac:03}"),
        6 => format!(".{frac:06}"),
        _ => format!(".{frac:09}"),
    };
    format!("{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z", t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: f64) -> String {
        let mut o = Vec::new();
        write_js_number(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn numbers_as_javascript_prints_them() {
        let cases = [
            (0.1, "0.1"),
            (100.0, "100"),
            (5.0, "5"),
            (-7.25, "-7.25"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456789012345680000.0, "123456789012345680000"),
            (2.5, "2.5"),
            (9007199254740993.0, "9007199254740992"),
            (-1e-7, "-1e-7"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-0.0, "-0"),
        ];
        for (v, want) in cases {
            assert_eq!(js(v), want, "{v:?}");
            assert_eq!(js(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v:?} round-trips");
        }
    }

    #[test]
    fn ascii_strings_and_their_utf16_length() {
        let mut o = Vec::new();
        let n = write_str(&mut o, "a\"b\\\n\u{1}é😀", true);
        assert_eq!(String::from_utf8(o).unwrap(), r#""a\"b\\\n\u0001\u00e9\ud83d\ude00""#);
        assert_eq!(n, 9);
        let mut o = Vec::new();
        let n = write_str(&mut o, "é😀", false);
        assert_eq!(String::from_utf8(o).unwrap(), "\"é😀\"");
        assert_eq!(n, 3);
    }

    #[test]
    fn json_text_is_copied_with_ascii_escapes() {
        let mut o = Vec::new();
        let longest = copy_json(&mut o, r#"{"kéy":["x\"é",1.50e3,"😀"]}"#, true);
        let text = String::from_utf8(o).unwrap();
        assert_eq!(text, r#"{"k\u00e9y":["x\"\u00e9",1.50e3,"\ud83d\ude00"]}"#);
        assert_eq!(longest, 3);
        let a: serde_json::Value = serde_json::from_str(&text).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"kéy":["x\"é",1.50e3,"😀"]}"#).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn iso_and_decimals() {
        assert_eq!(iso_text(0, TimeUnit::Millisecond), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_text(-1, TimeUnit::Millisecond), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_text(1_709_296_496_789, TimeUnit::Millisecond), "2024-03-01T12:34:56.789Z");
        assert_eq!(iso_text(1_709_296_496_789_123, TimeUnit::Microsecond), "2024-03-01T12:34:56.789123Z");
        assert_eq!(iso_text(-62_198_755_200_000, TimeUnit::Millisecond), "-000001-01-01T00:00:00.000Z");
        assert_eq!(to_millis(-1, TimeUnit::Microsecond), -1);
        assert_eq!(decimal_text(12345, 2), "123.45");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(-18446744073709551617, 0), "-18446744073709551617");
        assert_eq!(decimal_text(12, -2), "1200");
        let mut o = Vec::new();
        assert_eq!(write_b64(&mut o, b"hello"), 8);
        assert_eq!(o, b"aGVsbG8=");
    }
}
