//! `TalkJS-REST-Version`: which API version's behaviour a request gets (API.md "Compatibility
//! details"). Per request from the header, else the app's `rest_version` setting, else the newest.

use std::fmt;

use actix_web::HttpRequest;
use parley_domain::{Invalid, InvalidCode};

/// The request header that selects a version.
pub const HEADER: &str = "TalkJS-REST-Version";

/// The versions whose behaviour differs, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RestVersion {
    /// Conversation lists ordered by `createdAt` DESC, fixed; an unknown user's list is empty.
    V2021_01_01,
    /// Lists by last activity by default, `orderBy` honoured; an unknown user's list is empty.
    V2021_02_09,
    /// As 2021-02-09 (its participant-removal rule is the only one Parley has).
    V2021_07_30,
    /// An unknown user's conversation list is a 404.
    #[default]
    V2024_01_01,
}

impl RestVersion {
    const ALL: [(RestVersion, (u32, u32, u32)); 4] = [
        (RestVersion::V2021_01_01, (2021, 1, 1)),
        (RestVersion::V2021_02_09, (2021, 2, 9)),
        (RestVersion::V2021_07_30, (2021, 7, 30)),
        (RestVersion::V2024_01_01, (2024, 1, 1)),
    ];

    /// A `YYYY-MM-DD` date as the version in force on it: a date between two versions means
    /// the older of them, one before the first means the first, one after the newest the newest.
    /// `None` when `raw` is not a date.
    pub fn parse(raw: &str) -> Option<Self> {
        let date = parse_date(raw.trim())?;
        let found = Self::ALL
            .iter()
            .rev()
            .find(|(_, since)| *since <= date)
            .map_or(RestVersion::V2021_01_01, |(v, _)| *v);
        Some(found)
    }

    /// Whether conversation lists ignore `orderBy`/`orderDirection` and order by creation.
    pub fn lists_by_creation_only(self) -> bool {
        self == RestVersion::V2021_01_01
    }

    /// Whether an unknown user's conversation list is `200 {"data": []}` rather than a 404.
    pub fn unknown_user_lists_empty(self) -> bool {
        self < RestVersion::V2024_01_01
    }
}

impl fmt::Display for RestVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, (y, m, d)) = Self::ALL
            .iter()
            .find(|(v, _)| v == self)
            .copied()
            .unwrap_or(Self::ALL[3]);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// `YYYY-MM-DD` with a real month and day (leap years included).
fn parse_date(raw: &str) -> Option<(u32, u32, u32)> {
    let bytes = raw.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = raw.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then_some((year, month, day))
}

/// The version a request asked for with the header, if it did.
///
/// # Errors
/// [`Invalid`] naming the header when its value is not a `YYYY-MM-DD` date.
pub fn requested(req: &HttpRequest) -> Result<Option<RestVersion>, Invalid> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let parsed = value.to_str().ok().and_then(RestVersion::parse);
    match parsed {
        Some(version) => Ok(Some(version)),
        None => Err(Invalid::field(
            InvalidCode::InvalidField,
            HEADER,
            "must be an API version date, YYYY-MM-DD (for example 2021-02-09)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_map_to_the_version_in_force() {
        use RestVersion::*;
        for (raw, want) in [
            ("2021-01-01", V2021_01_01),
            ("2019-05-05", V2021_01_01),
            ("2021-02-08", V2021_01_01),
            ("2021-02-09", V2021_02_09),
            ("2021-06-30", V2021_02_09),
            ("2021-07-30", V2021_07_30),
            ("2023-12-31", V2021_07_30),
            ("2024-01-01", V2024_01_01),
            ("2099-01-01", V2024_01_01),
            ("2024-02-29", V2024_01_01),
        ] {
            assert_eq!(RestVersion::parse(raw), Some(want), "{raw}");
        }
        for bad in [
            "",
            "latest",
            "2021-1-1",
            "2021-13-01",
            "2023-02-29",
            "20210101",
            "2021-01-0x",
        ] {
            assert_eq!(RestVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(V2021_07_30.to_string(), "2021-07-30");
    }
}
