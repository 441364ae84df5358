//! Versions in semver form and Piston's version selectors (node-semver's
//! `satisfies`).

/// A semantic version, `major.minor.patch`.
pub type Version = [u64; 3];

/// A detected version (`"3.11.2"`, `"17.0.9"`, `"20"`, `None`) in semver
/// form: the first three dotted numbers, missing ones 0; unknown is `0.0.0`.
pub fn semver(detected: Option<&str>) -> Version {
    let mut v = [0u64; 3];
    let Some(s) = detected else { return v };
    let start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    for (i, part) in s[start..].split('.').take(3).enumerate() {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse() {
            Ok(n) => v[i] = n,
            Err(_) => break,
        }
        if digits.len() != part.len() {
            break;
        }
    }
    v
}

pub fn version_string(v: Version) -> String {
    format!("{}.{}.{}", v[0], v[1], v[2])
}

/// Does `v` satisfy Piston's `version` selector (node-semver's
/// `satisfies`): `*`, `x`, exact or partial (`3`, `3.11`, `3.x`), the
/// operators `=`, `>`, `>=`, `<`, `<=`, `~`, `^`, comparators separated
/// by spaces (all must hold) and alternatives separated by `||`.
pub fn satisfies(v: Version, selector: &str) -> bool {
    selector.split("||").any(|alt| {
        let mut parts = alt.split_whitespace().peekable();
        if parts.peek().is_none() {
            return true;
        }
        parts.all(|c| comparator(v, c).unwrap_or(false))
    })
}

/// A partial version: `None` for a component absent or `x`/`X`/`*`.
type Partial = [Option<u64>; 3];

fn partial(s: &str) -> Option<Partial> {
    let s = s.trim_start_matches(['v', 'V', '=']);
    let mut p: Partial = [None; 3];
    if s.is_empty() {
        return Some(p);
    }
    // A pre-release or build suffix is not part of any Kiln version.
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        p[i] = match *part {
            "x" | "X" | "*" => None,
            n => Some(n.parse().ok()?),
        };
        if p[i].is_none() {
            break;
        }
    }
    Some(p)
}

fn matches(v: Version, p: &Partial) -> bool {
    (0..3).all(|i| p[i].is_none_or(|n| n == v[i]))
}

fn low(p: &Partial) -> Version {
    [p[0].unwrap_or(0), p[1].unwrap_or(0), p[2].unwrap_or(0)]
}

fn comparator(v: Version, c: &str) -> Option<bool> {
    let (op, rest) = [">=", "<=", ">", "<", "~>", "~", "^", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", c));
    let p = partial(rest)?;
    let lo = low(&p);
    Some(match op {
        "" | "=" => matches(v, &p),
        ">=" => v >= lo,
        ">" => v > lo && !matches(v, &p),
        "<" => v < lo,
        "<=" => v < lo || matches(v, &p),
        "~" | "~>" => v >= lo && v[0] == lo[0] && (p[1].is_none() || v[1] == lo[1]),
        "^" => {
            v >= lo
                && if lo[0] > 0 || p[1].is_none() {
                    v[0] == lo[0]
                } else if lo[1] > 0 || p[2].is_none() {
                    v[0] == lo[0] && v[1] == lo[1]
                } else {
                    v == lo
                }
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_as_node_semver_does() {
        let v = [3, 11, 2];
        for yes in [
            "*",
            "",
            "x",
            "3",
            "3.x",
            "3.11",
            "3.11.x",
            "3.11.2",
            "=3.11.2",
            "v3.11.2",
            ">=3.10",
            ">3.10.9",
            "<4",
            "<=3.11",
            "~3.11.0",
            "^3.1",
            "^3.0.0",
            "3.10 || 3.11",
            ">=3 <4",
            "3.*",
        ] {
            assert!(satisfies(v, yes), "{yes} should match 3.11.2");
        }
        for no in [
            "3.10.0",
            "2",
            "4.x",
            ">3.11",
            "<3.11.2",
            "~3.10",
            "^3.12",
            "<=3.10",
            ">=3 <3.11",
            "nonsense",
            "1.2.3.4",
        ] {
            assert!(!satisfies(v, no), "{no} should not match 3.11.2");
        }
        assert!(satisfies([0, 2, 5], "^0.2.3"));
        assert!(!satisfies([0, 3, 0], "^0.2.3"));
    }

    #[test]
    fn detected_versions_become_semver() {
        assert_eq!(semver(Some("3.11.2")), [3, 11, 2]);
        assert_eq!(semver(Some("17.0.9.1")), [17, 0, 9]);
        assert_eq!(semver(Some("20")), [20, 0, 0]);
        assert_eq!(semver(Some("go1.19.8")), [1, 19, 8]);
        assert_eq!(semver(Some("5.2.15(1)-release")), [5, 2, 15]);
        assert_eq!(semver(None), [0, 0, 0]);
    }
}
