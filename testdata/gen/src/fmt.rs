//! Fast JSON formatting of numbers, dates and strings into a byte buffer (no `fmt` machinery).

/// Appends the decimal digits of `v`.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `v` as a JSON number, or with `quoted` as a string of its digits (the type
/// drift the shapes write on purpose).
#[inline]
pub(crate) fn push_u64_quoted_if(buf: &mut Vec<u8>, v: u64, quoted: bool) {
    if quoted {
        buf.push(b'"');
    }
    push_u64(buf, v);
    if quoted {
        buf.push(b'"');
    }
}

/// Appends an amount in cents the way `JSON.stringify` prints the matching
/// double: `12.34`, `12.3`, or `12` (trailing zeros dropped).
#[inline]
pub(crate) fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    let frac = (cents % 100) as u8;
    if frac != 0 {
        buf.push(b'.');
        buf.push(b'0' + frac / 10);
        if !frac.is_multiple_of(10) {
            buf.push(b'0' + frac % 10);
        }
    }
}

/// Appends exactly `width` digits of `v` (zero padded).
#[inline]
fn push_fixed(buf: &mut Vec<u8>, v: u32, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    let mut v = v;
    for b in buf[start..].iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Appends the decimal digits of `v`, with a `-` when negative.
#[inline]
pub(crate) fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends `scaled / 10^decimals` the way `JSON.stringify` prints the matching double
/// (`-12.5`, `0.001`, `3`: trailing zeros dropped). `decimals` at most 9.
#[inline]
pub(crate) fn push_decimal(buf: &mut Vec<u8>, scaled: i64, decimals: u32) {
    debug_assert!(decimals <= 9);
    let pow = 10u64.pow(decimals);
    let abs = scaled.unsigned_abs();
    if scaled < 0 {
        buf.push(b'-');
    }
    push_u64(buf, abs / pow);
    let mut frac = abs % pow;
    if frac != 0 {
        let mut width = decimals as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        buf.push(b'.');
        push_fixed(buf, frac as u32, width);
    }
}

/// Appends a finite double as the shortest decimal that reads back as the same double,
/// without an exponent: what `JSON.stringify` prints for magnitudes in `1e-6..1e21` (the
/// range the shapes use).
#[inline]
pub(crate) fn push_f64(buf: &mut Vec<u8>, v: f64) {
    debug_assert!(v.is_finite());
    use std::io::Write;
    write!(buf, "{v}").expect("writing into a Vec cannot fail");
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Appends epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (years 0..=9999),
/// the output of JavaScript's `Date.prototype.toISOString`.
pub(crate) fn push_iso8601(buf: &mut Vec<u8>, epoch_ms: i64) {
    let days = epoch_ms.div_euclid(86_400_000);
    let ms_of_day = epoch_ms.rem_euclid(86_400_000) as u32;
    let (y, m, d) = civil_from_days(days);
    push_fixed(buf, y.clamp(0, 9999) as u32, 4);
    buf.push(b'-');
    push_fixed(buf, m, 2);
    buf.push(b'-');
    push_fixed(buf, d, 2);
    buf.push(b'T');
    push_fixed(buf, ms_of_day / 3_600_000, 2);
    buf.push(b':');
    push_fixed(buf, ms_of_day / 60_000 % 60, 2);
    buf.push(b':');
    push_fixed(buf, ms_of_day / 1000 % 60, 2);
    buf.push(b'.');
    push_fixed(buf, ms_of_day % 1000, 3);
    buf.push(b'Z');
}

/// How a Date is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dates {
    /// `"2024-03-01T00:00:00.000Z"` (JSON.stringify of a Date).
    Iso,
    /// `1709251200000`, tagged in `"$types"` (typeson, as in a Dexie export).
    EpochMillis,
}

/// Appends a Date (epoch milliseconds) as `dates` says.
#[inline]
pub(crate) fn push_date(buf: &mut Vec<u8>, ms: i64, dates: Dates) {
    match dates {
        Dates::Iso => {
            buf.push(b'"');
            push_iso8601(buf, ms);
            buf.push(b'"');
        }
        Dates::EpochMillis => push_u64(buf, ms as u64),
    }
}

/// Appends `s` as a JSON string, escaped as `JSON.stringify` does.
pub(crate) fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
            _ => buf.push(b),
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, 1_000_007)), "1000007");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
    }

    #[test]
    fn cents_like_json_stringify() {
        assert_eq!(s(|b| push_cents(b, 12345)), "123.45");
        assert_eq!(s(|b| push_cents(b, 12340)), "123.4");
        assert_eq!(s(|b| push_cents(b, 12305)), "123.05");
        assert_eq!(s(|b| push_cents(b, 12300)), "123");
        assert_eq!(s(|b| push_cents(b, 5)), "0.05");
    }

    #[test]
    fn iso8601_like_to_iso_string() {
        assert_eq!(s(|b| push_iso8601(b, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(s(|b| push_iso8601(b, 1_709_251_200_000)), "2024-03-01T00:00:00.000Z");
        assert_eq!(s(|b| push_iso8601(b, 1_709_164_799_999)), "2024-02-28T23:59:59.999Z");
        assert_eq!(s(|b| push_iso8601(b, 951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(s(|b| push_iso8601(b, -1)), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn escapes_like_json_stringify() {
        let mut b = Vec::new();
        push_str(&mut b, "a\"b\\c\nd\u{1}é");
        assert_eq!(b, "\"a\\\"b\\\\c\\nd\\u0001é\"".as_bytes());
    }

    #[test]
    fn signed_and_fixed_point_numbers_like_json_stringify() {
        assert_eq!(s(|b| push_i64(b, -87)), "-87");
        assert_eq!(s(|b| push_i64(b, i64::MIN)), i64::MIN.to_string());
        assert_eq!(s(|b| push_decimal(b, -12_500, 3)), "-12.5");
        assert_eq!(s(|b| push_decimal(b, 1, 3)), "0.001");
        assert_eq!(s(|b| push_decimal(b, -1, 6)), "-0.000001");
        assert_eq!(s(|b| push_decimal(b, 3_000, 3)), "3");
        assert_eq!(s(|b| push_decimal(b, 52_520_123, 6)), "52.520123");
        assert_eq!(s(|b| push_decimal(b, 7, 0)), "7");
        assert_eq!(s(|b| push_f64(b, 0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(s(|b| push_f64(b, -3.25)), "-3.25");
        assert_eq!(s(|b| push_f64(b, 1e-6)), "0.000001");
    }
}
