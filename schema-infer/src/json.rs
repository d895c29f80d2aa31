//! Byte-level JSON scanning that allocates nothing (public for the engine's decoder): whitespace, strings, numbers,
//! literals and whole values. Inference and splitting are built on these.

use memchr::memchr2;

/// Why a JSON value could not be scanned. `Incomplete` means "need more bytes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// The buffer ended inside the value.
    Incomplete,
    /// The bytes at this position are not valid JSON.
    Syntax(usize, &'static str),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep(usize),
}

/// The deepest nesting accepted; deeper input is an error, never a stack overflow.
pub const MAX_DEPTH: usize = 512;

/// The deepest nesting that becomes nested columns: an object or array deeper in a
/// record than this is kept whole as JSON text. Arrow, Parquet and their readers
/// recurse over nested types (a record nested 200 levels deep overflowed the Parquet
/// writer's stack), and the schema must stay readable as JSON by serde_json (128
/// levels, about 6 per level of `Map`).
pub const MAX_NESTING: usize = 16;

/// JSON whitespace.
#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Index of the first non-whitespace byte at or after `pos` (or `buf.len()`).
#[inline]
pub fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && is_ws(buf[pos]) {
        pos += 1;
    }
    pos
}

/// `pos` is just after an opening quote. Returns the index just after the closing
/// quote and whether the string contained a backslash escape.
#[inline]
pub fn skip_string(buf: &[u8], mut pos: usize) -> Result<(usize, bool), ScanError> {
    let mut escaped = false;
    loop {
        // Eight bytes at a time: find the first '"' or '\\' in a word (SWAR).
        while pos + 8 <= buf.len() {
            let w = u64::from_le_bytes(buf[pos..pos + 8].try_into().expect("8 bytes"));
            let m = has_byte(w, b'"') | has_byte(w, b'\\');
            if m != 0 {
                pos += (m.trailing_zeros() / 8) as usize;
                break;
            }
            pos += 8;
        }
        let found = if pos < buf.len() && matches!(buf[pos], b'"' | b'\\') {
            Some(0)
        } else {
            memchr2(b'"', b'\\', &buf[pos..])
        };
        match found {
            None => return Err(ScanError::Incomplete),
            Some(i) => {
                let at = pos + i;
                if buf[at] == b'"' {
                    return Ok((at + 1, escaped));
                }
                escaped = true;
                if at + 1 >= buf.len() {
                    return Err(ScanError::Incomplete);
                }
                pos = at + 2;
            }
        }
    }
}

/// Checks the body of a string (between its quotes; `escaped` as [`skip_string`] says)
/// as strict JSON: every escape decodes and no raw control character is left. (Valid
/// UTF-8 outside escapes is left to the caller, which may check a whole record at once.)
///
/// Returns whether the string holds a lone UTF-16 surrogate (`\ud83d` without its
/// pair): JavaScript strings may, Rust and Arrow text may not, so such a value is kept
/// as JSON text (see [`unescape_into`]).
pub fn check_string_body(body: &[u8], escaped: bool) -> Result<bool, &'static str> {
    let lone = escaped && unescape_lossy(body, &mut String::new())?;
    if has_control(body) {
        return Err("control character in string");
    }
    Ok(lone)
}

/// Whether `s` holds a byte below 0x20 (a raw control character, invalid in a
/// JSON string), eight bytes at a time.
#[inline]
pub fn has_control(s: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // A byte < 0x20 has a borrow out of (x - 0x20…) with its high bit clear.
        if x.wrapping_sub(LO * 0x20) & !x & HI != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20)
}

/// Equality of two short byte strings (field names) without a `memcmp` call:
/// eight bytes at a time, then the tail.
#[inline(always)]
pub fn eq_short(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if u64::from_le_bytes(x.try_into().expect("8 bytes")) != u64::from_le_bytes(y.try_into().expect("8 bytes")) {
            return false;
        }
    }
    ca.remainder().iter().zip(cb.remainder()).all(|(x, y)| x == y)
}

/// High bit set in each byte of `x` equal to `b` (exact for the lowest such byte).
#[inline(always)]
fn has_byte(x: u64, b: u8) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let v = x ^ (LO * u64::from(b));
    v.wrapping_sub(LO) & !v & HI
}

/// What a JSON number literal holds, as far as the type lattice cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumClass {
    /// Integral and within ±2^53: exact in a JavaScript number and in Int64.
    Int,
    /// Anything else (fraction, exponent, or beyond ±2^53).
    Float,
}

/// 2^53: the largest integer a JavaScript number holds exactly.
pub const MAX_SAFE: u64 = 1 << 53;

/// Scans a number starting at `pos`. Returns the end index and its class.
#[inline]
pub fn scan_number(buf: &[u8], start: usize) -> Result<(usize, NumClass), ScanError> {
    let n = buf.len();
    let mut pos = start;
    let neg = buf.get(pos) == Some(&b'-');
    if neg {
        pos += 1;
    }
    let int_start = pos;
    while pos < n && buf[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_len = pos - int_start;
    if int_len == 0 {
        return Err(if pos >= n { ScanError::Incomplete } else { ScanError::Syntax(pos, "invalid number") });
    }
    if int_len > 1 && buf[int_start] == b'0' {
        return Err(ScanError::Syntax(int_start, "leading zero in number"));
    }
    // The common case: a plain integer.
    if pos >= n || !matches!(buf[pos], b'.' | b'e' | b'E') {
        let class = if neg && int_len == 1 && buf[int_start] == b'0' {
            // -0 is not an integer value in JavaScript terms (it would lose its sign).
            NumClass::Float
        } else if int_len < 16 {
            NumClass::Int
        } else if int_len == 16 {
            let v = buf[int_start..pos].iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
            if v <= MAX_SAFE {
                NumClass::Int
            } else {
                NumClass::Float
            }
        } else {
            NumClass::Float
        };
        return Ok((pos, class));
    }
    let mut frac_nonzero = false;
    if buf[pos] == b'.' {
        pos += 1;
        let f = pos;
        while pos < n && buf[pos].is_ascii_digit() {
            frac_nonzero |= buf[pos] != b'0';
            pos += 1;
        }
        if pos == f {
            // At the end of the buffer the digits may be in the next block.
            return Err(if pos >= n {
                ScanError::Incomplete
            } else {
                ScanError::Syntax(pos, "digits expected after '.'")
            });
        }
    }
    let mut has_exp = false;
    if pos < n && (buf[pos] == b'e' || buf[pos] == b'E') {
        has_exp = true;
        pos += 1;
        if pos < n && (buf[pos] == b'+' || buf[pos] == b'-') {
            pos += 1;
        }
        let e = pos;
        while pos < n && buf[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == e {
            return Err(if pos >= n {
                ScanError::Incomplete
            } else {
                ScanError::Syntax(pos, "digits expected in exponent")
            });
        }
    }
    let class = if has_exp {
        // Rare in browser output (JSON.stringify writes 1e21 and up this way).
        let text = std::str::from_utf8(&buf[start..pos]).unwrap_or("x");
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v.fract() == 0.0 && v.abs() <= MAX_SAFE as f64 && !(v == 0.0 && neg) => {
                NumClass::Int
            }
            _ => NumClass::Float,
        }
    } else if frac_nonzero || (neg && buf[int_start..int_start + int_len].iter().all(|&d| d == b'0')) {
        // A fraction, or -0 (which would lose its sign as an integer).
        NumClass::Float
    } else if int_len < 16 {
        NumClass::Int
    } else {
        // `1234567890123456.0`: integral but maybe beyond 2^53.
        let v = buf[int_start..int_start + int_len.min(19)].iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        if int_len <= 16 && v <= MAX_SAFE {
            NumClass::Int
        } else {
            NumClass::Float
        }
    };
    Ok((pos, class))
}

/// Matches a literal (`true`, `false`, `null`) at `pos`.
#[inline]
pub fn expect_literal(buf: &[u8], pos: usize, lit: &'static [u8]) -> Result<usize, ScanError> {
    let end = pos + lit.len();
    if end > buf.len() {
        if lit.starts_with(&buf[pos..]) {
            return Err(ScanError::Incomplete);
        }
        return Err(ScanError::Syntax(pos, "invalid literal"));
    }
    if &buf[pos..end] == lit {
        Ok(end)
    } else {
        Err(ScanError::Syntax(pos, "invalid literal"))
    }
}

/// Skips one whole JSON value starting at `pos` (which must not be whitespace),
/// tracking strings and brackets only. Returns the index just after the value.
/// Inner syntax (commas, colons, literals) is left for the record parser to judge,
/// so a malformed record is still delimited and can be rejected on its own.
pub fn skip_value(buf: &[u8], pos: usize) -> Result<usize, ScanError> {
    let n = buf.len();
    if pos >= n {
        return Err(ScanError::Incomplete);
    }
    match buf[pos] {
        b'"' => skip_string(buf, pos + 1).map(|(e, _)| e),
        b'{' | b'[' => skip_container(buf, pos),
        b't' => expect_literal(buf, pos, b"true"),
        b'f' => expect_literal(buf, pos, b"false"),
        b'n' => expect_literal(buf, pos, b"null"),
        b'-' | b'0'..=b'9' => {
            let (end, _) = scan_number(buf, pos)?;
            if end >= n {
                return Err(ScanError::Incomplete);
            }
            Ok(end)
        }
        _ => Err(ScanError::Syntax(pos, "unexpected character")),
    }
}

/// The open containers of a scan: expected closers as a bit stack (1 = `}`,
/// 0 = `]`), spilling to a Vec past 64 levels.
#[derive(Default)]
struct Brackets {
    bits: u64,
    depth: usize,
    spill: Vec<u64>,
}

impl Brackets {
    /// `{` or `[` at `at`.
    #[inline]
    fn open(&mut self, b: u8, at: usize) -> Result<(), ScanError> {
        if self.depth >= MAX_DEPTH {
            return Err(ScanError::TooDeep(at));
        }
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.spill.push(self.bits);
            self.bits = 0;
        }
        self.bits = (self.bits << 1) | u64::from(b == b'{');
        self.depth += 1;
        Ok(())
    }

    /// `}` or `]` at `at`; true when it closes the outermost container.
    #[inline]
    fn close(&mut self, b: u8, at: usize) -> Result<bool, ScanError> {
        if self.depth == 0 || ((self.bits & 1) == 1) != (b == b'}') {
            return Err(ScanError::Syntax(at, "unbalanced bracket"));
        }
        self.bits >>= 1;
        self.depth -= 1;
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.bits = self.spill.pop().unwrap_or(0);
        }
        Ok(self.depth == 0)
    }
}

fn skip_container(buf: &[u8], start: usize) -> Result<usize, ScanError> {
    // Long values (a Dexie row is ~400 bytes) go 64 bytes at a time through a
    // structural index; short ones and the tail byte by byte.
    let mut br = Brackets::default();
    let mut in_string = 0u64; // all ones while a string continues into the next block
    let mut escape_next = false; // the previous block ended in an unescaped backslash
    let mut pos = start;
    while pos + 64 <= buf.len() && buf.len() - start >= 128 {
        let block: &[u8; 64] = buf[pos..pos + 64].try_into().expect("64 bytes");
        let (quotes, backslashes, opens, closes) = block_masks(block);
        // Escaped characters: the byte after each unescaped backslash.
        let mut escaped = u64::from(escape_next);
        let mut bs = backslashes & !escaped;
        escape_next = false;
        while bs != 0 {
            let i = bs.trailing_zeros();
            if i == 63 {
                escape_next = true;
            } else {
                escaped |= 1 << (i + 1);
            }
            // The escaped byte cannot start another escape.
            bs &= !(1u64 << i);
            if i < 63 {
                bs &= !(1u64 << (i + 1));
            }
        }
        // Bytes inside strings: prefix XOR of the quotes, continued from the last block.
        let mut inside = quotes & !escaped;
        inside ^= inside << 1;
        inside ^= inside << 2;
        inside ^= inside << 4;
        inside ^= inside << 8;
        inside ^= inside << 16;
        inside ^= inside << 32;
        inside ^= in_string;
        in_string = if inside >> 63 == 1 { u64::MAX } else { 0 };
        let mut structural = (opens | closes) & !inside;
        while structural != 0 {
            let i = structural.trailing_zeros() as usize;
            structural &= structural - 1;
            if opens >> i & 1 == 1 {
                br.open(block[i], pos + i)?;
            } else if br.close(block[i], pos + i)? {
                return Ok(pos + i + 1);
            }
        }
        pos += 64;
    }
    byte_scan(buf, pos, br, in_string != 0, escape_next)
}

/// Scans byte by byte from `pos`, in the state the caller left: the open containers,
/// whether a string is open, and whether its next byte is escaped.
fn byte_scan(buf: &[u8], mut pos: usize, mut br: Brackets, in_str: bool, escape: bool) -> Result<usize, ScanError> {
    let n = buf.len();
    if in_str {
        pos += usize::from(escape);
        if pos > n {
            return Err(ScanError::Incomplete);
        }
        pos = skip_string(buf, pos)?.0;
    } else if escape && matches!(buf.get(pos), Some(b'"' | b'\\')) {
        pos += 1;
    }
    while pos < n {
        let b = buf[pos];
        pos += 1;
        if !INTERESTING[b as usize] {
            continue;
        }
        match b {
            b'"' => {
                // Short strings (most keys and values) in a plain loop; a long one
                // (base64, text) goes to the word-at-a-time search.
                let limit = (pos + 32).min(n);
                loop {
                    if pos >= limit {
                        if pos >= n {
                            return Err(ScanError::Incomplete);
                        }
                        pos = skip_string(buf, pos)?.0;
                        break;
                    }
                    let c = buf[pos];
                    pos += 1;
                    if c == b'"' {
                        break;
                    }
                    if c == b'\\' {
                        pos += 1;
                    }
                }
            }
            b'{' | b'[' => br.open(b, pos - 1)?,
            // A backslash outside a string (invalid JSON) escapes a quote or backslash
            // after it, as in the block scanner (a bracket after it stays structural
            // there), so both delimit even a broken value alike.
            b'\\' => {
                if matches!(buf.get(pos), Some(b'"' | b'\\')) {
                    pos += 1;
                }
            }
            _ => {
                if br.close(b, pos - 1)? {
                    return Ok(pos);
                }
            }
        }
    }
    Err(ScanError::Incomplete)
}

/// Bit masks (bit i = byte i) of quotes, backslashes, `{`/`[` and `}`/`]` in a block.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always
    // available; every load reads 16 bytes inside `block` (offsets 0, 16, 32, 48 of
    // a 64-byte array) and `_mm_loadu_si128` has no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let bit5 = _mm_set1_epi8(0x20);
        let open = _mm_set1_epi8(b'{' as i8);
        let close = _mm_set1_epi8(b'}' as i8);
        let (mut q, mut bs, mut o, mut c) = (0u64, 0u64, 0u64, 0u64);
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(k * 16).cast::<__m128i>());
            // '[' and ']' are '{' and '}' with bit 5 clear: one OR folds them together.
            let f = _mm_or_si128(v, bit5);
            let shift = k * 16;
            q |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << shift;
            bs |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u16) << shift;
            o |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(f, open)) as u16) << shift;
            c |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(f, close)) as u16) << shift;
        }
        (q, bs, o, c)
    }
}

/// Bit masks (bit i = byte i) of quotes, backslashes, `{`/`[` and `}`/`]` in a block
/// (portable: eight bytes at a time).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    const LO: u64 = 0x0101_0101_0101_0101;
    let (mut q, mut bs, mut o, mut c) = (0u64, 0u64, 0u64, 0u64);
    for k in 0..8 {
        let w = u64::from_le_bytes(block[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
        // '[' and ']' are '{' and '}' with bit 5 clear: one OR folds them together.
        let f = w | (LO * 0x20);
        let shift = k * 8;
        q |= u64::from(movemask(eq_bytes(w, b'"'))) << shift;
        bs |= u64::from(movemask(eq_bytes(w, b'\\'))) << shift;
        o |= u64::from(movemask(eq_bytes(f, b'{'))) << shift;
        c |= u64::from(movemask(eq_bytes(f, b'}'))) << shift;
    }
    (q, bs, o, c)
}

/// High bit set in exactly the bytes of `x` equal to `b` (exact for every byte).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn eq_bytes(x: u64, b: u8) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let v = x ^ (LO * u64::from(b));
    !(((v & SEVEN) + SEVEN) | v | SEVEN)
}

/// The high bits of the eight bytes of `m` as one byte (bit i = byte i).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn movemask(m: u64) -> u8 {
    (((m >> 7) & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

const INTERESTING: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Checks that one JSON value at `pos` is fully valid (syntax, escapes, numbers,
/// UTF-8 of its strings) and returns its end. Slower than [`skip_value`]; used
/// where a value's text is kept verbatim (JSON-text columns).
pub fn validate_value(buf: &[u8], pos: usize) -> Result<usize, ScanError> {
    validate_at(buf, pos, 0)
}

/// [`validate_value`] for a value nested `depth` levels deep in its record: the
/// record as a whole may nest at most [`MAX_DEPTH`] levels.
pub fn validate_nested(buf: &[u8], pos: usize, depth: usize) -> Result<usize, ScanError> {
    validate_at(buf, pos, depth)
}

fn validate_at(buf: &[u8], pos: usize, depth: usize) -> Result<usize, ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep(pos));
    }
    match buf.get(pos) {
        None => Err(ScanError::Incomplete),
        Some(b'"') => {
            let (end, escaped) = skip_string(buf, pos + 1)?;
            let body = &buf[pos + 1..end - 1];
            if !escaped && std::str::from_utf8(body).is_err() {
                return Err(ScanError::Syntax(pos, "invalid UTF-8 in string"));
            }
            check_string_body(body, escaped).map_err(|m| ScanError::Syntax(pos, m))?;
            Ok(end)
        }
        Some(b'{') => {
            let mut p = skip_ws(buf, pos + 1);
            if buf.get(p) == Some(&b'}') {
                return Ok(p + 1);
            }
            loop {
                if buf.get(p) != Some(&b'"') {
                    return Err(ScanError::Syntax(p, "object key expected"));
                }
                // A key with a lone surrogate is refused here as where objects are walked
                // into columns: a record's validity must not depend on which of the two
                // meets it (a JSON-text column once took what a struct column refused).
                let (kend, escaped) = skip_string(buf, p + 1)?;
                if escaped && check_string_body(&buf[p + 1..kend - 1], true).map_err(|m| ScanError::Syntax(p, m))? {
                    return Err(ScanError::Syntax(p, LONE_SURROGATE));
                }
                p = skip_ws(buf, validate_at(buf, p, depth + 1)?);
                if buf.get(p) != Some(&b':') {
                    return Err(ScanError::Syntax(p, "':' expected"));
                }
                p = skip_ws(buf, validate_at(buf, skip_ws(buf, p + 1), depth + 1)?);
                match buf.get(p) {
                    Some(b',') => p = skip_ws(buf, p + 1),
                    Some(b'}') => return Ok(p + 1),
                    _ => return Err(ScanError::Syntax(p, "',' or '}' expected")),
                }
            }
        }
        Some(b'[') => {
            let mut p = skip_ws(buf, pos + 1);
            if buf.get(p) == Some(&b']') {
                return Ok(p + 1);
            }
            loop {
                p = skip_ws(buf, validate_at(buf, p, depth + 1)?);
                match buf.get(p) {
                    Some(b',') => p = skip_ws(buf, p + 1),
                    Some(b']') => return Ok(p + 1),
                    _ => return Err(ScanError::Syntax(p, "',' or ']' expected")),
                }
            }
        }
        Some(b't') => expect_literal(buf, pos, b"true"),
        Some(b'f') => expect_literal(buf, pos, b"false"),
        Some(b'n') => expect_literal(buf, pos, b"null"),
        Some(b'-' | b'0'..=b'9') => Ok(scan_number(buf, pos)?.0),
        Some(_) => Err(ScanError::Syntax(pos, "unexpected character")),
    }
}

/// The reason given for a string with a lone UTF-16 surrogate where only text can go.
pub const LONE_SURROGATE: &str =
    "a lone UTF-16 surrogate (half of a surrogate pair, e.g. an emoji cut in two) cannot be kept in text: \
     only string values keep one, as JSON text";

/// Decodes a JSON string body (between the quotes) with escapes into `out`.
/// A lone surrogate is an error ([`LONE_SURROGATE`]): text cannot hold it, and
/// replacing it would change the value.
pub fn unescape_into(body: &[u8], out: &mut String) -> Result<(), &'static str> {
    if unescape_lossy(body, out)? {
        return Err(LONE_SURROGATE);
    }
    Ok(())
}

/// [`unescape_into`], with lone surrogates written as U+FFFD; returns whether one was.
fn unescape_lossy(body: &[u8], out: &mut String) -> Result<bool, &'static str> {
    let mut lone = false;
    let mut i = 0;
    let mut utf16: Vec<u16> = Vec::new();
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            let next = memchr::memchr(b'\\', &body[i..]).map_or(body.len(), |k| i + k);
            let chunk = std::str::from_utf8(&body[i..next]).map_err(|_| "invalid UTF-8 in string")?;
            out.push_str(chunk);
            i = next;
            continue;
        }
        let esc = *body.get(i + 1).ok_or("dangling backslash")?;
        i += 2;
        match esc {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                utf16.clear();
                let mut j = i - 2;
                while j + 6 <= body.len() && body[j] == b'\\' && body[j + 1] == b'u' {
                    let hex = std::str::from_utf8(&body[j + 2..j + 6]).map_err(|_| "bad \\u escape")?;
                    utf16.push(u16::from_str_radix(hex, 16).map_err(|_| "bad \\u escape")?);
                    j += 6;
                }
                if utf16.is_empty() {
                    return Err("bad \\u escape");
                }
                out.extend(char::decode_utf16(utf16.iter().copied()).map(|r| {
                    r.unwrap_or_else(|_| {
                        lone = true;
                        '\u{FFFD}'
                    })
                }));
                i = j;
            }
            _ => return Err("invalid escape"),
        }
    }
    Ok(lone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_classify_like_javascript() {
        let c = |s: &str| scan_number(format!("{s} ").as_bytes(), 0).unwrap().1;
        assert_eq!(c("0"), NumClass::Int);
        assert_eq!(c("-12"), NumClass::Int);
        assert_eq!(c("9007199254740992"), NumClass::Int);
        assert_eq!(c("9007199254740993"), NumClass::Float);
        assert_eq!(c("18446744073709551616"), NumClass::Float);
        assert_eq!(c("1.5"), NumClass::Float);
        assert_eq!(c("2.000"), NumClass::Int);
        assert_eq!(c("1e3"), NumClass::Int);
        assert_eq!(c("1e400"), NumClass::Float);
        assert_eq!(c("-0"), NumClass::Float);
        assert_eq!(c("-0.0"), NumClass::Float);
        assert_eq!(c("-0e5"), NumClass::Float);
        assert_eq!(c("9007199254740992.0"), NumClass::Int);
        assert_eq!(c("9007199254740993.0"), NumClass::Float);
        assert_eq!(c("-12.50"), NumClass::Float);
        assert!(scan_number(b"01 ", 0).is_err());
        assert!(scan_number(b"1. ", 0).is_err());
    }

    /// Regression (found by the `split` fuzz target): a number cut by the end of a
    /// block right after its `.` or `e` was a syntax error ("digits expected after
    /// '.'"), so a valid export whose block boundary fell there failed to read.
    #[test]
    fn a_number_cut_after_its_point_or_exponent_is_incomplete_not_invalid() {
        for cut in ["1.", "-0.", "1e", "1E", "2e+", "2.5e-", "-"] {
            assert_eq!(scan_number(cut.as_bytes(), 0), Err(ScanError::Incomplete), "{cut}");
            assert_eq!(skip_value(cut.as_bytes(), 0), Err(ScanError::Incomplete), "{cut}");
        }
        for bad in ["1.]", "1e]", "2e+,", "-x"] {
            assert!(matches!(scan_number(bad.as_bytes(), 0), Err(ScanError::Syntax(..))), "{bad}");
        }
    }

    #[test]
    fn skip_value_tracks_strings_and_brackets() {
        let s = br#"{"a":"}]\"x","b":[1,{"c":null}]} tail"#;
        assert_eq!(skip_value(s, 0).unwrap(), s.len() - 5);
        assert_eq!(skip_value(br#"{"a":[1,2"#, 0), Err(ScanError::Incomplete));
        assert!(matches!(skip_value(br#"{"a":]"#, 0), Err(ScanError::Syntax(5, _))));
        let deep = "[".repeat(100_000);
        assert!(matches!(skip_value(deep.as_bytes(), 0), Err(ScanError::TooDeep(_))));
    }

    #[test]
    fn strings_end_at_the_first_unescaped_quote() {
        for (s, end, esc) in [
            (&b"abc\" tail"[..], 4, false),
            (b"0123456789abcdef\" tail", 17, false),
            (b"01234567\\\"89\" tail", 13, true),
            (b"\\\\\" tail", 3, true),
            (b"\" tail", 1, false),
        ] {
            assert_eq!(skip_string(s, 0), Ok((end, esc)), "{}", String::from_utf8_lossy(s));
        }
        assert_eq!(skip_string(b"0123456789", 0), Err(ScanError::Incomplete));
        assert_eq!(skip_string(b"01234567\\", 0), Err(ScanError::Incomplete));
    }

    #[test]
    fn validation_is_strict() {
        assert_eq!(validate_value(br#"{"a":[1,2.5,"x\n",null,true]} "#, 0), Ok(29));
        for bad in [&br#"{"a":tru}"#[..], br#"[1,]"#, br#"{"a" 1}"#, br#""\x""#, b"\"\x01\"", br#"[01]"#] {
            assert!(validate_value(bad, 0).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn block_scanner_agrees_with_the_scalar_one() {
        // Deterministic pseudo-random JSON-ish text: strings with escapes and brackets
        // inside, nesting, records longer than several 64-byte blocks.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..3000 {
            let mut s = String::new();
            let mut depth = 0;
            let len = 20 + rnd(600) as usize;
            s.push(if rnd(2) == 0 { '{' } else { '[' });
            let mut stack = vec![if s.starts_with('{') { '}' } else { ']' }];
            while s.len() < len || !stack.is_empty() {
                if s.len() >= len {
                    s.push(stack.pop().unwrap());
                    continue;
                }
                match rnd(7) {
                    0 if depth < 20 => {
                        let open = if rnd(2) == 0 { '{' } else { '[' };
                        s.push(open);
                        stack.push(if open == '{' { '}' } else { ']' });
                        depth += 1;
                    }
                    1 if stack.len() > 1 => {
                        s.push(stack.pop().unwrap());
                        depth -= 1;
                    }
                    2 | 3 => {
                        s.push('"');
                        for _ in 0..rnd(90) {
                            match rnd(9) {
                                0 => s.push_str("\\\""),
                                1 => s.push_str("\\\\"),
                                2 => s.push_str("{]["),
                                3 => s.push('}'),
                                _ => s.push('x'),
                            }
                        }
                        s.push('"');
                    }
                    _ => s.push_str(",1:"),
                }
            }
            s.push_str(" tail");
            let b = s.as_bytes();
            let fast = skip_container(b, 0);
            let slow = byte_scan(b, 0, Brackets::default(), false, false);
            assert_eq!(fast, slow, "case {case}: {s}");
            // Cut anywhere: both must agree on the truncated input too.
            let cut = rnd(b.len() as u64) as usize;
            assert_eq!(
                skip_container(&b[..cut.max(1)], 0),
                byte_scan(&b[..cut.max(1)], 0, Brackets::default(), false, false),
                "case {case} cut {cut}"
            );
        }
    }

    /// Regression (found by the `split` fuzz target): a backslash outside any string
    /// (invalid JSON) escaped the next byte for the block scanner but not for the byte
    /// scanner, so a broken record was delimited differently depending on where the
    /// input's blocks happened to end.
    #[test]
    fn both_scanners_treat_a_backslash_outside_strings_alike() {
        let mut doc = br#"[\"]"#.to_vec();
        doc.extend_from_slice(&[b'x'; 150]);
        doc.extend_from_slice(br#""]\\]] tail"#);
        let fast = skip_container(&doc, 0);
        assert_eq!(fast, Ok(4));
        assert_eq!(byte_scan(&doc, 0, Brackets::default(), false, false), fast);
        for cut in 1..doc.len() {
            let b = &doc[..cut];
            assert_eq!(skip_container(b, 0), byte_scan(b, 0, Brackets::default(), false, false), "cut {cut}");
        }
        // Escapes outside strings before quotes, backslashes and brackets, across the
        // 64-byte block boundary.
        for tail in [&b"\\\\\\\"]"[..], b"\\{]]]", b"\\\\{]]", b"\\[\\]]]", b"\\\"{\"]]"] {
            for at in 58..70 {
                let mut d = vec![b'['; 1];
                d.resize(at, b' ');
                d.extend_from_slice(tail);
                d.resize(200, b'y');
                d.extend_from_slice(b"\"]]]");
                let fast = skip_container(&d, 0);
                assert_eq!(fast, byte_scan(&d, 0, Brackets::default(), false, false), "at {at}");
                for cut in at..d.len() {
                    let b = &d[..cut];
                    assert_eq!(skip_container(b, 0), byte_scan(b, 0, Brackets::default(), false, false), "cut {cut}");
                }
            }
        }
    }

    #[test]
    fn portable_masks_are_exact() {
        let block: Vec<u8> =
            (0..64u8).map(|i| [b'"', b'\\', b'{', b'[', b'}', b']', b'a', 0x7b ^ 0x80][i as usize % 8]).collect();
        let (q, bs, o, c) = block_masks(block.as_slice().try_into().unwrap());
        let mask =
            |f: &dyn Fn(u8) -> bool| block.iter().enumerate().filter(|(_, &b)| f(b)).fold(0u64, |m, (i, _)| m | 1 << i);
        assert_eq!(q, mask(&|b| b == b'"'));
        assert_eq!(bs, mask(&|b| b == b'\\'));
        assert_eq!(o, mask(&|b| b == b'{' || b == b'['));
        assert_eq!(c, mask(&|b| b == b'}' || b == b']'));
        for x in [0u64, u64::MAX, 0x0022_0022_2200_0122, 0x8080_8080_8080_8080] {
            let want = (0..8).filter(|i| (x >> (8 * i)) as u8 == b'"').fold(0u8, |m, i| m | 1 << i);
            assert_eq!(movemask(eq_bytes(x, b'"')), want, "{x:#x}");
        }
    }

    #[test]
    fn short_equality() {
        assert!(eq_short(b"customerId", b"customerId"));
        assert!(!eq_short(b"customerId", b"customerIx"));
        assert!(!eq_short(b"abcdefgh1", b"abcdefgh2"));
        assert!(!eq_short(b"a", b"ab"));
        assert!(eq_short(b"", b""));
    }

    #[test]
    fn control_characters_are_found() {
        assert!(!has_control(b"plain text that is long enough"));
        assert!(!has_control("héllo wörld ✓ ✓ ✓".as_bytes()));
        for i in 0..20 {
            let mut v = b"abcdefghijklmnopqrstuvwxyz".to_vec();
            v[i] = 0x1f;
            assert!(has_control(&v), "at {i}");
            v[i] = 0x7f;
            assert!(!has_control(&v), "DEL at {i}");
        }
    }

    #[test]
    fn unescape_handles_surrogates() {
        let mut s = String::new();
        unescape_into(br"a\u00e9\ud83d\ude00x\n", &mut s).unwrap();
        assert_eq!(s, "aé😀x\n");
    }

    /// Issue 14: a lone surrogate was replaced by U+FFFD and the record counted as
    /// written, changed. Text cannot hold one: unescaping refuses it, and checking the
    /// string reports it, so that the value is kept as JSON text.
    #[test]
    fn lone_surrogates_are_reported_not_replaced() {
        for body in [&br"half emoji \ud83d"[..], br"\ude00 low first", br"\ud800\ud800", br"x\udfff\ud800y"] {
            assert_eq!(unescape_into(body, &mut String::new()), Err(LONE_SURROGATE), "{body:?}");
            assert_eq!(check_string_body(body, true), Ok(true), "{body:?}");
        }
        assert_eq!(check_string_body(br"\ud83d\ude00", true), Ok(false));
        // Round-trip finding N16: a key with one, inside a value checked as JSON text, was
        // accepted where the same object walked into columns was refused (so a record's
        // validity depended on the records before it, and its reject reason was wrong).
        assert!(matches!(validate_value(br#"{"a":{"\ud800":0}}"#, 0), Err(ScanError::Syntax(6, LONE_SURROGATE))));
        assert_eq!(validate_value(br#"{"a":"\ud800","\ud83d\ude00":1}"#, 0).ok(), Some(31));
        assert_eq!(check_string_body(b"plain", false), Ok(false));
    }
}
