//! HTTP-date parsing (RFC 9110 section 5.6.7) for `Retry-After`, without dependencies.

/// A run of ASCII digits as a number, saturating instead of overflowing.
pub(crate) fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP-date in any of its three forms, as seconds since the Unix epoch.
pub(crate) fn http_date(s: &str) -> Option<i64> {
    imf_fixdate(s).or_else(|| rfc850(s)).or_else(|| asctime(s))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(s: &str) -> Option<i64> {
    let (weekday, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    let (time, zone) = (parts.next()?, parts.next()?);
    let well_formed = SHORT_DAYS.contains(&weekday) && day.len() == 2 && year.len() == 4;
    if !well_formed || zone != "GMT" || parts.next().is_some() {
        return None;
    }
    timestamp(number(year)?, month, number(day)?, time)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`; two-digit years 70–99 are 19xx, the rest 20xx.
fn rfc850(s: &str) -> Option<i64> {
    let (weekday, rest) = s.split_once(", ")?;
    let mut parts = rest.split(' ');
    let (date, time, zone) = (parts.next()?, parts.next()?, parts.next()?);
    if !LONG_DAYS.contains(&weekday) || zone != "GMT" || parts.next().is_some() {
        return None;
    }
    let mut fields = date.split('-');
    let (day, month, year) = (fields.next()?, fields.next()?, fields.next()?);
    if day.len() != 2 || year.len() != 2 || fields.next().is_some() {
        return None;
    }
    let year = number(year)?;
    let year = if year >= 70 { 1900 + year } else { 2000 + year };
    timestamp(year, month, number(day)?, time)
}

/// `Sun Nov  6 08:49:37 1994`
fn asctime(s: &str) -> Option<i64> {
    let mut parts = s.split_ascii_whitespace();
    let (weekday, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let (time, year) = (parts.next()?, parts.next()?);
    if !SHORT_DAYS.contains(&weekday) || year.len() != 4 || parts.next().is_some() {
        return None;
    }
    timestamp(number(year)?, month, number(day)?, time)
}

fn number(s: &str) -> Option<i64> {
    if s.len() > 4 {
        return None;
    }
    digits(s.as_bytes()).map(|n| n as i64)
}

/// Seconds since the epoch of a validated date and `hh:mm:ss` time.
fn timestamp(year: i64, month: &str, day: i64, time: &str) -> Option<i64> {
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut hms = time.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || [h, m, s].iter().any(|f| f.len() != 2) {
        return None;
    }
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date. Years are counted from March, so
/// that the leap day ends a year; eras of 400 years repeat exactly (146 097 days).
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
