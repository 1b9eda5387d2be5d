//! The one number formatter: every byte size, duration, count, rate, percent, ratio and verdict cell
//! qcheck shows a person goes through here, so the same quantity reads the same in the seed table,
//! the check summary, a tip, the plan tree and the compare report.
//!
//! Pure and a leaf (it imports nothing from the crate), so every layer may use it: `report` above
//! all, but also the verdict texts of `expect`, the messages of `tips` and the progress lines.
//!
//! Conventions, one per unit:
//! - **bytes**: 1024-based, as PostgreSQL's `pg_size_pretty` (`kB` = 1024 B); bytes as an integer,
//!   larger units with three significant figures: `999 B`, `1023 B`, `1.00 kB`, `1.23 GB`;
//! - **durations**: the unit that reads best (whole `µs` below 1 ms, `ms` below 1 s, `s` above), three
//!   significant figures: `850 µs`, `2.43 ms`, `34.2 s`; a figure in a column whose header already
//!   says `ms` is bare ([`ms`]), also three significant figures;
//! - **counts**: thousands separators; a fraction (EXPLAIN's per-loop averages) keeps up to two
//!   decimals: `1,234,567`, `0.5`;
//! - **rates**: three significant figures with an SI prefix: `1.23M rows/s`, `2.05k`;
//! - **percents**: one decimal: `12.3%`;
//! - **ratios**: three significant figures and `×`: `8.40×`, `0.850×`;
//! - **verdict cells**: `3/3 ok`, `1/3 FAIL`, `exempt (2/3)`; a result is `pass` or `FAIL`.
//!
//! Not a number (NaN) prints as `-`, the mark for a missing figure; an infinity as `∞` / `-∞`.
//! Nothing here panics.

/// The mark for a figure that is missing or not a number.
pub const MISSING: &str = "-";

/// Units of [`bytes`], 1024 apart.
const BYTE_UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];

/// SI prefixes of [`si`], 1000 apart.
const SI_PREFIXES: [&str; 5] = ["", "k", "M", "G", "T"];

/// `Some` text for NaN and infinities, which no other rule formats.
fn not_finite(v: f64) -> Option<String> {
    if v.is_nan() {
        Some(MISSING.into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "∞" } else { "-∞" }.into())
    } else {
        None
    }
}

/// Decimals that give `v` three significant figures (none at 100 and above), capped at 6.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "log10 of a finite f64 is within ±324 (an infinite one saturates); decimals are \
              clamped to 0..=6"
)]
fn sig3_decimals(v: f64) -> usize {
    let a = v.abs();
    if a == 0.0 {
        return 0;
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    // 9.996 rounds to "10.00" at two decimals: one fewer keeps three figures ("10.0").
    let rounded: f64 = format!("{a:.decimals$}").parse().unwrap_or(a);
    if decimals > 0 && rounded >= 10f64.powi(magnitude + 1) {
        decimals - 1
    } else {
        decimals
    }
}

/// Three significant figures, no exponent, no separators: `0.0123`, `1.23`, `12.3`, `123`, `1234`.
pub fn sig3(v: f64) -> String {
    if let Some(s) = not_finite(v) {
        return s;
    }
    if v == 0.0 {
        return "0".into();
    }
    let decimals = sig3_decimals(v);
    format!("{v:.decimals$}")
}

/// Scales `v` down by `step` until it prints below `step` with three significant figures, and
/// returns the scaled value and the number of steps taken (at most `max_steps`).
fn scale(v: f64, step: f64, max_steps: usize) -> (f64, usize) {
    let mut v = v;
    let mut steps = 0;
    // 1023.7 kB prints as "1024 kB" at three figures: it is "1.00 MB".
    while v.abs() >= step - 0.5 && steps < max_steps {
        v /= step;
        steps += 1;
    }
    (v, steps)
}

/// A size in bytes: `0 B`, `999 B`, `1.00 kB`, `40.0 MB`, `1.23 GB`.
pub fn bytes(n: f64) -> String {
    if let Some(s) = not_finite(n) {
        return s;
    }
    let (v, unit) = scale(n, 1024.0, BYTE_UNITS.len() - 1);
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{} {}", sig3(v), BYTE_UNITS[unit])
    }
}

/// Bytes per second: `1.23 GB/s`.
pub fn bytes_per_sec(n: f64) -> String {
    with_unit(n, bytes, "/s")
}

/// The unit (and its divisor) that the largest of `values` reads best in, for an axis whose ticks
/// are plain numbers: `("MB", 1048576.0)`. Same units as [`bytes`].
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "unit indexes BYTE_UNITS: a handful"
)]
pub fn bytes_unit(values: impl IntoIterator<Item = f64>) -> (&'static str, f64) {
    let max = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (_, unit) = scale(max, 1024.0, BYTE_UNITS.len() - 1);
    (BYTE_UNITS[unit], 1024f64.powi(unit as i32))
}

/// A duration given in milliseconds: `0 ms`, `850 µs`, `2.43 ms`, `34.2 s`.
pub fn duration_ms(ms: f64) -> String {
    if let Some(s) = not_finite(ms) {
        return s;
    }
    let a = ms.abs();
    if a == 0.0 {
        "0 ms".into()
    } else if a < 0.9995 {
        // Whole microseconds: PostgreSQL prints EXPLAIN times to the microsecond, so `24.0 µs`
        // would claim a precision no plan has (and client-side timings below 1 ms do not need it).
        format!("{:.0} µs", ms * 1e3)
    } else if a < 999.5 {
        format!("{} ms", sig3(ms))
    } else {
        format!("{} s", sig3(ms / 1e3))
    }
}

/// A duration given in seconds; see [`duration_ms`].
pub fn duration_s(seconds: f64) -> String {
    duration_ms(seconds * 1e3)
}

/// Milliseconds as a bare figure, for a column whose header says `ms`: three significant figures
/// but never more than three decimals (`0.035`, `0.006`, `61.2`), because PostgreSQL prints EXPLAIN
/// times to the microsecond and a fourth decimal would claim precision it does not have; `-` when
/// not measured.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(
        || MISSING.into(),
        |v| {
            if not_finite(v).is_some() || v == 0.0 {
                return sig3(v);
            }
            let decimals = sig3_decimals(v).min(3);
            format!("{v:.decimals$}")
        },
    )
}

/// A count with thousands separators: `1,234,567`; a fraction keeps up to two decimals (`0.5`,
/// `1,234.57`), as PostgreSQL 18 reports rows per loop.
pub fn count(v: f64) -> String {
    if let Some(s) = not_finite(v) {
        return s;
    }
    // Whole numbers (most row counts) skip the exact float formatting, which is slow: the same
    // text, from the integer. Exact below 2^53, where every f64 integer is a u64 as well.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, below 2^53
        let digits = (v.abs() as u64).to_string();
        let sign = if v < 0.0 { "-" } else { "" };
        return format!("{sign}{}", group_thousands(&digits));
    }
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some("0") => ("", "0"),
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut out = format!("{sign}{}", group_thousands(int));
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A whole count with thousands separators, exact for every `u64`: `1,000,000`.
pub fn count_u64(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `"1234567"` -> `"1,234,567"` (digits only).
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three significant figures with an SI prefix: `950`, `2.05k`, `1.23M`; for a rate in a column
/// whose header names it (`bookings/s`).
pub fn si(v: f64) -> String {
    if let Some(s) = not_finite(v) {
        return s;
    }
    let (scaled, prefix) = scale(v, 1000.0, SI_PREFIXES.len() - 1);
    format!("{}{}", sig3(scaled), SI_PREFIXES[prefix])
}

/// A rate: `1.23M rows/s`, `2.05k bookings/s`.
pub fn rate(per_sec: f64, noun: &str) -> String {
    with_unit(per_sec, si, &format!(" {noun}/s"))
}

/// A fraction as a percent, one decimal: `0.123` -> `12.3%`.
pub fn percent(fraction: f64) -> String {
    with_unit(fraction, |f| format!("{:.1}", f * 100.0), "%")
}

/// A ratio: `8.40×`, `0.850×`, `116×`.
pub fn ratio(v: f64) -> String {
    with_unit(v, sig3, "×")
}

/// `figure(v)` followed by `unit`, or only `-` when `v` is not a number (a unit on a missing
/// figure would suggest a value).
fn with_unit(v: f64, figure: impl Fn(f64) -> String, unit: &str) -> String {
    if v.is_nan() {
        MISSING.into()
    } else if v.is_infinite() {
        format!("{}{unit}", not_finite(v).unwrap_or_default())
    } else {
        format!("{}{unit}", figure(v))
    }
}

/// A plan's verdict cell: `3/3 ok`, `1/3 FAIL`, `2/3, 1 undecided` when nothing failed but the
/// plan could not decide everything, or `exempt (2/3)` for a generic plan the query declared exempt
/// (its failures do not count).
pub fn verdict(ok: usize, undecided: usize, total: usize, exempt: bool) -> String {
    if exempt {
        format!("exempt ({ok}/{total})")
    } else if ok == total {
        format!("{ok}/{total} ok")
    } else if ok + undecided == total {
        format!("{ok}/{total}, {undecided} undecided")
    } else {
        format!("{ok}/{total} FAIL")
    }
}

/// A result: `pass` or `FAIL` (upper case, so a failure stands out in a table).
pub fn pass_fail(passed: bool) -> &'static str {
    if passed { "pass" } else { "FAIL" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_switch_units_at_1024_with_three_figures() {
        assert_eq!(bytes(0.0), "0 B");
        assert_eq!(bytes(999.0), "999 B");
        assert_eq!(bytes(1023.0), "1023 B");
        assert_eq!(bytes(1024.0), "1.00 kB");
        assert_eq!(bytes(1536.0), "1.50 kB");
        assert_eq!(bytes(40.0 * 1024.0 * 1024.0), "40.0 MB");
        assert_eq!(bytes(1.23 * 1024f64.powi(3)), "1.23 GB");
        // Rounds up into the next unit instead of printing "1024 kB".
        assert_eq!(bytes(1024.0 * 1024.0 - 100.0), "1.00 MB");
        assert_eq!(bytes(-2048.0), "-2.00 kB");
        assert_eq!(bytes(1e20), "88818 PB");
        assert_eq!(bytes(f64::NAN), "-");
        assert_eq!(bytes(f64::INFINITY), "∞");
        assert_eq!(bytes_per_sec(2.5e9), "2.33 GB/s");
    }

    #[test]
    fn byte_units_for_axes() {
        assert_eq!(bytes_unit([10.0, 500.0]), ("B", 1.0));
        assert_eq!(
            bytes_unit([3.0 * 1024.0 * 1024.0, 5.0]),
            ("MB", 1_048_576.0)
        );
        assert_eq!(bytes_unit([f64::NAN, 2048.0]), ("kB", 1024.0));
        assert_eq!(bytes_unit(std::iter::empty()), ("B", 1.0));
    }

    #[test]
    fn sig3_keeps_three_figures() {
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(0.0123), "0.0123");
        assert_eq!(sig3(0.00123), "0.00123");
        assert_eq!(sig3(1.234), "1.23");
        assert_eq!(sig3(12.34), "12.3");
        assert_eq!(sig3(123.4), "123");
        assert_eq!(sig3(1234.0), "1234");
        assert_eq!(sig3(9.996), "10.0");
        assert_eq!(sig3(-0.5), "-0.500");
        assert_eq!(sig3(f64::NAN), "-");
        assert_eq!(sig3(f64::NEG_INFINITY), "-∞");
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration_ms(0.0), "0 ms");
        assert_eq!(duration_ms(0.052), "52 µs");
        assert_eq!(duration_ms(0.0004), "0 µs");
        assert_eq!(duration_ms(0.9999), "1.00 ms");
        assert_eq!(duration_ms(2.433), "2.43 ms");
        assert_eq!(duration_ms(999.4), "999 ms");
        assert_eq!(duration_ms(999.6), "1.00 s");
        assert_eq!(duration_ms(34_200.0), "34.2 s");
        assert_eq!(duration_ms(-5.0), "-5.00 ms");
        assert_eq!(duration_ms(f64::NAN), "-");
        assert_eq!(duration_s(1.5), "1.50 s");
        assert_eq!(ms(Some(0.035)), "0.035");
        assert_eq!(ms(Some(0.006)), "0.006");
        assert_eq!(ms(Some(61.24)), "61.2");
        assert_eq!(ms(Some(0.0)), "0");
        assert_eq!(ms(None), "-");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(0.5), "0.5");
        assert_eq!(count(1234.567), "1,234.57");
        assert_eq!(count(-1234.0), "-1,234");
        assert_eq!(count(-0.001), "0");
        assert_eq!(count(-0.0), "0");
        assert_eq!(count(9_007_199_254_740_992.0), "9,007,199,254,740,992");
        assert_eq!(count(-9_007_199_254_740_991.0), "-9,007,199,254,740,991");
        assert_eq!(count(1e300).len(), 301 + 100);
        assert_eq!(count(f64::NAN), "-");
        assert_eq!(count(f64::INFINITY), "∞");
        assert_eq!(count_u64(0), "0");
        assert_eq!(count_u64(1_000_000), "1,000,000");
        assert_eq!(count_u64(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn rates_percents_ratios() {
        assert_eq!(si(950.0), "950");
        assert_eq!(si(999.7), "1.00k");
        assert_eq!(si(2047.0), "2.05k");
        assert_eq!(si(1.234e6), "1.23M");
        assert_eq!(si(0.0), "0");
        assert_eq!(rate(3.2e6, "rows"), "3.20M rows/s");
        assert_eq!(rate(f64::INFINITY, "rows"), "∞ rows/s");
        assert_eq!(percent(0.123), "12.3%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(-0.5), "-50.0%");
        assert_eq!(percent(f64::NAN), "-");
        assert_eq!(ratio(f64::NAN), "-");
        assert_eq!(rate(f64::NAN, "rows"), "-");
        assert_eq!(ratio(8.4), "8.40×");
        assert_eq!(ratio(0.85), "0.850×");
        assert_eq!(ratio(116.2), "116×");
        assert_eq!(ratio(f64::INFINITY), "∞×");
    }

    #[test]
    fn verdict_cells() {
        assert_eq!(verdict(3, 0, 3, false), "3/3 ok");
        assert_eq!(verdict(1, 0, 3, false), "1/3 FAIL");
        assert_eq!(verdict(1, 1, 3, false), "1/3 FAIL");
        assert_eq!(verdict(2, 1, 3, false), "2/3, 1 undecided");
        assert_eq!(verdict(2, 0, 3, true), "exempt (2/3)");
        assert_eq!(verdict(0, 0, 0, false), "0/0 ok");
        assert_eq!((pass_fail(true), pass_fail(false)), ("pass", "FAIL"));
    }
}
