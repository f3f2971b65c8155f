//! Durations as Go writes them (`30m`, `24h`, `1h30m`, `1.5h`, `250ms`): Argo CD reads
//! sync window durations with Go's `time.ParseDuration`, and a tenant should not have to
//! learn a second syntax for promotion soak times. One parser serves both.

use std::time::Duration;

/// Units Go accepts, longest spelling first where one is a prefix of another.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000), // U+00B5 MICRO SIGN
    ("μs", 1_000), // U+03BC GREEK SMALL LETTER MU
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
];

/// Go refuses durations that do not fit an `int64` of nanoseconds (about 292 years), so a
/// duration Argo CD would refuse is refused here too.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a text is not a duration; each message says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it is empty")]
    Empty,
    #[error("it has a space; write 1h30m, not 1h 30m")]
    Space,
    #[error("`{0}` does not start with a number")]
    Missing(String),
    #[error("`{0}` is not a number")]
    Number(String),
    #[error("a number has no unit; add one of h, m, s, ms, us, ns")]
    NoUnit,
    #[error("unknown unit `{0}`; use h, m, s, ms, us or ns (days are 24h)")]
    Unit(String),
    #[error("it is longer than 292 years")]
    TooLong,
}

/// Parses a Go duration: one or more `<number><unit>`, numbers with an optional
/// fraction. A bare `0` is zero, as in Go. Signs are refused: no duration here can be
/// negative.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.contains(char::is_whitespace) {
        return Err(DurationError::Space);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(DurationError::Missing(rest.to_string()));
        }
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits_only(fraction) {
            // `.` alone, or a second `.`.
            return Err(DurationError::Number(number.to_string()));
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                DurationError::NoUnit
            } else {
                DurationError::Unit(unit.to_string())
            });
        };
        nanos = nanos
            .checked_add(amount(whole, fraction, *scale)?)
            .filter(|n| *n <= MAX_NANOS)
            .ok_or(DurationError::TooLong)?;
    }
    // MAX_NANOS fits a u64, so the conversion keeps every nanosecond.
    let nanos = u64::try_from(nanos).map_err(|_| DurationError::TooLong)?;
    Ok(Duration::from_nanos(nanos))
}

/// `whole.fraction` units of `scale` nanoseconds each, in nanoseconds; digits beyond a
/// nanosecond's precision are dropped, as Go does.
fn amount(whole: &str, fraction: &str, scale: u128) -> Result<u128, DurationError> {
    let mut nanos: u128 = 0;
    for digit in whole.bytes() {
        nanos = nanos
            .checked_mul(10)
            .and_then(|n| n.checked_add(u128::from(digit - b'0') * scale))
            .filter(|n| *n <= MAX_NANOS * 10)
            .ok_or(DurationError::TooLong)?;
    }
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos += u128::from(digit - b'0') * place;
    }
    Ok(nanos)
}

/// Writes a duration the way [`parse_duration`] reads it, largest units first and
/// without zero parts: `24h`, `1h30m`, `1m0.5s` is `1m500ms`; zero is `0s`.
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".into();
    }
    let mut nanos = duration.as_nanos();
    let mut out = String::new();
    for (name, scale) in UNITS
        .iter()
        .rev()
        .filter(|(n, _)| !n.starts_with(['µ', 'μ']))
    {
        let count = nanos / scale;
        if count > 0 {
            out.push_str(&format!("{count}{name}"));
            nanos %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse_duration("30m"), Ok(secs(1800)));
        assert_eq!(parse_duration("24h"), Ok(secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3µs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_duration("3us"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("60h"), Ok(secs(216_000)));
    }

    #[test]
    fn says_why_not() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("10"), Err(DurationError::NoUnit));
        assert_eq!(parse_duration("1d"), Err(DurationError::Unit("d".into())));
        assert_eq!(parse_duration("1 hour"), Err(DurationError::Space));
        assert_eq!(parse_duration("1h "), Err(DurationError::Space));
        assert_eq!(parse_duration("h"), Err(DurationError::Missing("h".into())));
        assert_eq!(parse_duration(".h"), Err(DurationError::Number(".".into())));
        assert_eq!(
            parse_duration("1.2.3h"),
            Err(DurationError::Number("1.2.3".into()))
        );
        assert_eq!(
            parse_duration("-1h"),
            Err(DurationError::Missing("-1h".into()))
        );
        assert_eq!(parse_duration("3000000h"), Err(DurationError::TooLong));
        assert_eq!(
            parse_duration("99999999999999999999999999999999999999999h"),
            Err(DurationError::TooLong)
        );
    }

    #[test]
    fn formats_what_it_reads() {
        for (text, formatted) in [
            ("24h", "24h"),
            ("90m", "1h30m"),
            ("1.5s", "1s500ms"),
            ("0", "0s"),
            ("1h0m1ns", "1h1ns"),
        ] {
            let duration = parse_duration(text).unwrap();
            assert_eq!(format_duration(duration), formatted, "{text}");
            assert_eq!(parse_duration(formatted), Ok(duration), "{formatted}");
        }
    }
}
