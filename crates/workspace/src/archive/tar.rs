//! The tar format, as far as a home's archive needs it: ustar headers for
//! regular files and directories, GNU long names (`L` entries) for paths
//! over 100 bytes, and on reading also PAX `path` records (`x` entries).
//! Everything else (links, devices, FIFOs) is refused on upload.

/// Bytes of a tar block.
pub const BLOCK: usize = 512;
/// Longest entry name accepted on upload.
pub const MAX_NAME: usize = 4096;

/// What a header describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// The next entry's name (GNU `L`).
    LongName,
    /// PAX records for the next entry (`x`); global ones (`g`) are ignored.
    Pax,
    GlobalPax,
    /// A link, device or FIFO (its type flag).
    Refused(u8),
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
}

fn put(block: &mut [u8], at: usize, len: usize, value: &[u8]) {
    let n = value.len().min(len);
    block[at..at + n].copy_from_slice(&value[..n]);
}

fn octal(block: &mut [u8], at: usize, len: usize, v: u64) {
    let s = format!("{v:0width$o}", width = len - 1);
    put(block, at, len - 1, s.as_bytes());
}

/// One header block (ustar) for `name`, with the checksum.
fn header_block(name: &[u8], typeflag: u8, size: u64, mode: u32, mtime: u64) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put(&mut b, 0, 100, name);
    octal(&mut b, 100, 8, u64::from(mode & 0o7777));
    octal(&mut b, 108, 8, 0);
    octal(&mut b, 116, 8, 0);
    octal(&mut b, 124, 12, size);
    octal(&mut b, 136, 12, mtime);
    b[156] = typeflag;
    put(&mut b, 257, 6, b"ustar\0");
    put(&mut b, 263, 2, b"00");
    put(&mut b, 265, 32, b"kiln");
    put(&mut b, 297, 32, b"kiln");
    b[148..156].fill(b' ');
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    let s = format!("{sum:06o}\0 ");
    put(&mut b, 148, 8, s.as_bytes());
    b
}

/// The header(s) of an entry: a GNU long-name entry first when the name
/// does not fit in 100 bytes. Directories get a trailing `/`.
pub fn entry_header(name: &str, dir: bool, size: u64, mode: u32, mtime: u64) -> Vec<u8> {
    let name = if dir {
        format!("{name}/")
    } else {
        name.to_string()
    };
    let (typeflag, size) = if dir { (b'5', 0) } else { (b'0', size) };
    let mut out = Vec::with_capacity(BLOCK * 3);
    if name.len() > 100 {
        let mut long = name.as_bytes().to_vec();
        long.push(0);
        out.extend_from_slice(&header_block(
            b"././@LongLink",
            b'L',
            long.len() as u64,
            0o644,
            0,
        ));
        let padded = long.len().div_ceil(BLOCK) * BLOCK;
        long.resize(padded, 0);
        out.extend_from_slice(&long);
    }
    out.extend_from_slice(&header_block(name.as_bytes(), typeflag, size, mode, mtime));
    out
}

/// Zero bytes that pad `size` bytes of data to a whole block.
pub fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

fn field(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    &b[..end]
}

fn parse_octal(b: &[u8], what: &str) -> Result<u64, String> {
    let s = String::from_utf8_lossy(field(b));
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| format!("the tar header's {what} {s:?} is not octal"))
}

/// Whether a block is all zeros (the archive's end).
pub fn is_end(block: &[u8]) -> bool {
    block.iter().all(|&b| b == 0)
}

/// Parses one header block (checksum checked).
pub fn parse(block: &[u8]) -> Result<Header, String> {
    let want = parse_octal(&block[148..156], "checksum")?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(x)
            }
        })
        .sum();
    if sum != want {
        return Err("a tar header has a wrong checksum (is the body a tar archive?)".into());
    }
    let mut name = String::from_utf8_lossy(field(&block[..100])).into_owned();
    if &block[257..262] == b"ustar" {
        let prefix = String::from_utf8_lossy(field(&block[345..500])).into_owned();
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
    }
    let kind = match block[156] {
        b'0' | 0 | b'7' => Kind::File,
        b'5' => Kind::Dir,
        b'L' => Kind::LongName,
        b'x' => Kind::Pax,
        b'g' => Kind::GlobalPax,
        other => Kind::Refused(other),
    };
    Ok(Header {
        name,
        kind,
        size: parse_octal(&block[124..136], "size")?,
        mode: parse_octal(&block[100..108], "mode")? as u32,
    })
}

/// The `path` of PAX records (`<len> path=<value>\n` …), if any.
pub fn pax_path(records: &[u8]) -> Option<String> {
    let mut rest = records;
    while !rest.is_empty() {
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return None;
        }
        let rec = &rest[sp + 1..len];
        if let Some(v) = rec.strip_prefix(b"path=") {
            let v = v.strip_suffix(b"\n").unwrap_or(v);
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        rest = &rest[len..];
    }
    None
}

/// The long name of a GNU `L` entry's data.
pub fn long_name(data: &[u8]) -> String {
    String::from_utf8_lossy(field(data)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_with_long_names() {
        let h = entry_header("a/b.txt", false, 5, 0o644, 1);
        assert_eq!(h.len(), BLOCK);
        let p = parse(&h).unwrap();
        assert_eq!(
            p,
            Header {
                name: "a/b.txt".into(),
                kind: Kind::File,
                size: 5,
                mode: 0o644
            }
        );
        let long = "d/".repeat(60) + "f";
        let h = entry_header(&long, false, 0, 0o600, 1);
        assert_eq!(h.len(), 3 * BLOCK);
        let first = parse(&h[..BLOCK]).unwrap();
        assert_eq!(first.kind, Kind::LongName);
        assert_eq!(long_name(&h[BLOCK..2 * BLOCK]), long);
        let d = parse(&entry_header("dir", true, 0, 0o755, 1)).unwrap();
        assert_eq!((d.name.as_str(), d.kind), ("dir/", Kind::Dir));
        assert_eq!(padding(5), 507);
        assert_eq!(padding(512), 0);
    }

    #[test]
    fn bad_checksums_links_and_pax_paths() {
        let mut h = entry_header("x", false, 1, 0o644, 1);
        h[0] = b'y';
        assert!(parse(&h).unwrap_err().contains("checksum"));
        let mut link = [0u8; BLOCK];
        link.copy_from_slice(&header_block(b"l", b'2', 0, 0o777, 0));
        assert_eq!(parse(&link).unwrap().kind, Kind::Refused(b'2'));
        assert_eq!(
            pax_path(b"20 mtime=1700000000\n12 path=a/b\n"),
            Some("a/b".into())
        );
        assert_eq!(pax_path(b"junk"), None);
    }
}
