//! The COPY encoders: PostgreSQL's binary COPY format written by hand into large buffers.
//!
//! Why by hand: rust-postgres' `BinaryCopyInWriter` goes through `ToSql` and a small write per field,
//! which is known to be slow for millions of rows (rust-postgres issue 1114). Here a row is a handful
//! of `extend_from_slice` calls into a buffer of a few MiB that is handed to `copy_in` whole. Binary
//! also beats text on the server side: text COPY spends its time parsing (measured by
//! `qcheck seed --timings`), binary receives uuids and timestamps as they are stored.
//!
//! The text encoder exists for that measurement only: the loader always uses binary.

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00 UTC).
pub const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
/// Microseconds per second (PostgreSQL timestamps count microseconds).
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds per minute.
pub const MICROS_PER_MIN: i64 = 60 * MICROS_PER_SEC;
/// Microseconds per day (UTC days: no leap seconds in PostgreSQL's clock).
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// The 11-byte signature, flags (no OIDs) and an empty header extension.
pub const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The file trailer: a field count of -1.
pub const BINARY_TRAILER: &[u8] = &[0xff, 0xff];

/// Microseconds since the PostgreSQL epoch from Unix seconds.
pub fn pg_micros_from_unix(secs: i64) -> i64 {
    (secs - PG_EPOCH_UNIX_SECS) * MICROS_PER_SEC
}

/// Appends binary-format rows to a buffer. Each method writes one field (length word and value).
pub struct BinaryRow<'a>(pub &'a mut Vec<u8>);

impl<'a> BinaryRow<'a> {
    /// Starts a row of `fields` columns by writing its field count.
    #[inline]
    pub fn start(buf: &'a mut Vec<u8>, fields: i16) -> BinaryRow<'a> {
        buf.extend_from_slice(&fields.to_be_bytes());
        BinaryRow(buf)
    }

    /// uuid: its 16 bytes.
    #[inline]
    pub fn uuid(&mut self, v: &[u8; 16]) -> &mut Self {
        self.0.extend_from_slice(&16i32.to_be_bytes());
        self.0.extend_from_slice(v);
        self
    }

    /// timestamptz (and timestamp): int64 microseconds since 2000-01-01 UTC.
    #[inline]
    pub fn timestamptz(&mut self, micros: i64) -> &mut Self {
        self.0.extend_from_slice(&8i32.to_be_bytes());
        self.0.extend_from_slice(&micros.to_be_bytes());
        self
    }

    /// Nullable timestamptz: `None` writes NULL.
    #[inline]
    pub fn opt_timestamptz(&mut self, micros: Option<i64>) -> &mut Self {
        match micros {
            Some(m) => self.timestamptz(m),
            None => self.null(),
        }
    }

    /// date: int32 days since 2000-01-01.
    #[inline]
    pub fn date(&mut self, days: i32) -> &mut Self {
        self.0.extend_from_slice(&4i32.to_be_bytes());
        self.0.extend_from_slice(&days.to_be_bytes());
        self
    }

    /// int2 (smallint).
    #[inline]
    pub fn int2(&mut self, v: i16) -> &mut Self {
        self.0.extend_from_slice(&2i32.to_be_bytes());
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// text, varchar and enum labels: the UTF-8 bytes.
    #[inline]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        reason = "the generator's texts are short names, labels and formatted ids, far below the \
                  2 GiB an i32 length holds"
    )]
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.0.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.0.extend_from_slice(v.as_bytes());
        self
    }

    /// Nullable text: `None` writes NULL.
    #[inline]
    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// NULL: a length of -1, no value.
    #[inline]
    pub fn null(&mut self) -> &mut Self {
        self.0.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }
}

/// A binary COPY row built on the stack with fixed-size copies and appended in one piece: a third
/// faster than a `Vec` append per field, for the appointment rows (the hot path). Their texts are
/// the generator's short constants, so 256 bytes always suffice (the largest row is about 200).
pub struct StackRow {
    bytes: [u8; 256],
    len: usize,
}

impl Default for StackRow {
    fn default() -> Self {
        StackRow::new()
    }
}

#[allow(
    clippy::inline_always,
    reason = "the appointment rows' hot path: forced inlining is part of the measured speed-up \
              (commit 637b6e0, benches/seed)"
)]
impl StackRow {
    /// An empty row.
    #[inline(always)]
    pub fn new() -> StackRow {
        StackRow {
            bytes: [0; 256],
            len: 0,
        }
    }

    /// Empties the row for reuse.
    #[inline(always)]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends raw bytes; panics when the row would exceed 256 bytes.
    #[inline(always)]
    pub fn put(&mut self, b: &[u8]) {
        self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    /// uuid: its 16 bytes.
    #[inline(always)]
    pub fn uuid(&mut self, v: &[u8; 16]) {
        self.put(&16i32.to_be_bytes());
        self.put(v);
    }

    /// Nullable timestamptz, int64 microseconds since 2000-01-01 UTC; `None` writes NULL.
    #[inline(always)]
    pub fn timestamptz(&mut self, v: Option<i64>) {
        match v {
            Some(m) => {
                self.put(&8i32.to_be_bytes());
                self.put(&m.to_be_bytes());
            }
            None => self.put(&(-1i32).to_be_bytes()),
        }
    }

    /// Nullable text as UTF-8 bytes; `None` writes NULL.
    #[inline(always)]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        reason = "a StackRow holds 256 bytes, so a text that fits is far below i32::MAX"
    )]
    pub fn text(&mut self, v: Option<&str>) {
        match v {
            Some(s) => {
                self.put(&(s.len() as i32).to_be_bytes());
                self.put(s.as_bytes());
            }
            None => self.put(&(-1i32).to_be_bytes()),
        }
    }

    /// The row's encoded bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Appends text-format (tab-separated) rows; for the binary-vs-text measurement.
pub struct TextRow<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> TextRow<'a> {
    /// Starts a row in `buf`.
    pub fn start(buf: &'a mut Vec<u8>) -> TextRow<'a> {
        TextRow { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// uuid in its canonical hyphenated lower-case form.
    pub fn uuid(&mut self, v: &[u8; 16]) -> &mut Self {
        self.sep();
        let mut tmp = [0u8; 36];
        let s = uuid::Uuid::from_bytes(*v)
            .hyphenated()
            .encode_lower(&mut tmp);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// ISO 8601 in UTC, which the server parses whatever its DateStyle and TimeZone.
    pub fn timestamptz(&mut self, micros: i64) -> &mut Self {
        self.sep();
        let secs = micros.div_euclid(MICROS_PER_SEC) + PG_EPOCH_UNIX_SECS;
        let frac = micros.rem_euclid(MICROS_PER_SEC);
        let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
        let text = if frac == 0 {
            format!("{}+00", dt.format("%Y-%m-%d %H:%M:%S"))
        } else {
            format!("{}.{frac:06}+00", dt.format("%Y-%m-%d %H:%M:%S"))
        };
        self.buf.extend_from_slice(text.as_bytes());
        self
    }

    /// Nullable timestamptz: `None` writes `\N`.
    pub fn opt_timestamptz(&mut self, micros: Option<i64>) -> &mut Self {
        match micros {
            Some(m) => self.timestamptz(m),
            None => self.null(),
        }
    }

    /// Any integer, in decimal.
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(v.to_string().as_bytes());
        self
    }

    /// Text, with backslash, tab, newline and carriage return escaped.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        for b in v.bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self
    }

    /// Nullable text: `None` writes `\N`.
    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// NULL: `\N`.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    /// Ends the row with a newline.
    pub fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_fields_follow_the_wire_format() {
        let mut buf = Vec::new();
        BinaryRow::start(&mut buf, 4)
            .int2(30)
            .timestamptz(1)
            .text("ok")
            .null();
        assert_eq!(
            buf,
            [
                &[0, 4][..],
                &[0, 0, 0, 2, 0, 30],
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1],
                &[0, 0, 0, 2, b'o', b'k'],
                &[0xff, 0xff, 0xff, 0xff],
            ]
            .concat()
        );
        assert_eq!(BINARY_HEADER.len(), 19);
        assert_eq!(pg_micros_from_unix(PG_EPOCH_UNIX_SECS + 1), 1_000_000);
    }

    #[test]
    fn text_fields_are_escaped_and_separated() {
        let mut buf = Vec::new();
        let mut row = TextRow::start(&mut buf);
        row.text("a\tb\\").null().int(-5).timestamptz(1_500_000);
        row.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "a\\tb\\\\\t\\N\t-5\t2000-01-01 00:00:01.500000+00\n"
        );
    }
}
