//! Parsing of the load generator's flag values: byte sizes (`4KiB`, `64MiB`),
//! size ranges (`1KiB..1MiB`), durations (`30s`, `2m`, `500ms`) and operation
//! mixes (`get=45,put=30,head=15,delete=10`).

use std::time::Duration;

use super::Op;

/// `4096`, `4KiB`, `64MiB`, `1GiB`, `10KB` (decimal), `1.5MiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    Ok((num * mult).round() as u64)
}

/// `MIN..MAX`, both sizes, MIN <= MAX.
pub fn parse_size_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("size range {s:?} must be MIN..MAX"))?;
    let (min, max) = (parse_size(a)?, parse_size(b)?);
    if min > max {
        return Err(format!("size range {s:?}: MIN is above MAX"));
    }
    Ok((min, max))
}

/// `30s`, `2m`, `500ms`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => num,
        "ms" => num / 1000.0,
        "m" => num * 60.0,
        "h" => num * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// `get=45,put=30,head=15,delete=10`: weights per operation (any positive
/// integers; they need not sum to 100).
pub fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut mix = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, weight) = part.split_once('=').ok_or_else(|| format!("mix entry {part:?} must be OP=WEIGHT"))?;
        let op = match name.trim() {
            "get" => Op::Get,
            "put" => Op::Put,
            "head" => Op::Head,
            "delete" => Op::Delete,
            "list" => Op::List,
            other => return Err(format!("operation {other:?} cannot be part of a mix")),
        };
        let weight: u32 = weight.trim().parse().map_err(|_| format!("invalid weight in {part:?}"))?;
        if weight > 0 {
            mix.push((op, weight));
        }
    }
    if mix.is_empty() {
        return Err("the mix has no operation with a positive weight".into());
    }
    Ok(mix)
}

/// Bytes in binary units for tables: `4.0 KiB`, `64.0 MiB`.
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("1.5MiB"), Ok(3 << 19));
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(parse_size_range("1KiB..1MiB"), Ok((1024, 1 << 20)));
        assert!(parse_size_range("2KiB..1KiB").is_err());
    }

    #[test]
    fn durations_and_mixes() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("3 days").is_err());
        let mix = parse_mix("get=45,put=30,head=15,delete=10").expect("valid mix");
        assert_eq!(mix.len(), 4);
        assert!(parse_mix("get=0").is_err());
        assert!(parse_mix("multipart-put=1").is_err());
    }
}
