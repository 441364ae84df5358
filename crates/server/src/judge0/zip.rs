//! Judge0's `additional_files`: a `.zip` (base64), read here into files.
//! Only what Judge0's `unzip` needs for plain files: the central directory,
//! entries stored (method 0) or deflated (method 8), every entry bounded.

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub data: Vec<u8>,
}

/// The error of an archive Kiln cannot read, saying `what` is wrong.
fn bad(what: &str) -> String {
    format!("is not a zip archive Kiln can read ({what})")
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The files of `zip` (directories skipped), each at most `max_bytes`
/// uncompressed, all together at most `max_bytes`.
pub fn read(zip: &[u8], max_bytes: usize) -> Result<Vec<Entry>, String> {
    const EOCD: u32 = 0x0605_4b50;
    const CENTRAL: usize = 0x0201_4b50;
    // The end of central directory record: 22 bytes plus a comment of at most 64 KiB.
    let lowest = zip.len().saturating_sub(22 + 0xffff);
    let eocd = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(zip, i) == Some(EOCD as usize))
        .ok_or_else(|| bad("no end of central directory"))?;
    let count = u16_at(zip, eocd + 10).ok_or_else(|| bad("short end record"))?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(|| bad("short end record"))?;
    let mut out = Vec::new();
    let mut total = 0usize;
    for _ in 0..count {
        if u32_at(zip, at) != Some(CENTRAL) {
            return Err(bad("broken central directory"));
        }
        let field = |off: usize, four: bool| {
            if four {
                u32_at(zip, at + off)
            } else {
                u16_at(zip, at + off)
            }
        };
        let (
            Some(flags),
            Some(method),
            Some(csize),
            Some(usize_),
            Some(nlen),
            Some(xlen),
            Some(clen),
            Some(local),
        ) = (
            field(8, false),
            field(10, false),
            field(20, true),
            field(24, true),
            field(28, false),
            field(30, false),
            field(32, false),
            field(42, true),
        )
        else {
            return Err(bad("short central directory entry"));
        };
        let name_bytes = zip
            .get(at + 46..at + 46 + nlen)
            .ok_or_else(|| bad("short name"))?;
        let name =
            String::from_utf8(name_bytes.to_vec()).map_err(|_| bad("a file name is not UTF-8"))?;
        at += 46 + nlen + xlen + clen;
        if name.ends_with('/') {
            continue;
        }
        if flags & 1 != 0 {
            return Err(format!("entry {name:?} is encrypted; send it unencrypted"));
        }
        if usize_ > max_bytes || total + usize_ > max_bytes {
            return Err(format!(
                "holds more than {max_bytes} bytes uncompressed (at {name:?}); send less"
            ));
        }
        let data = entry_data(zip, local, csize, usize_.min(max_bytes), method, &name)?;
        total += data.len();
        out.push(Entry { name, data });
    }
    Ok(out)
}

/// The data of the entry whose local header is at `local`: `csize` bytes
/// stored or deflated (`method` 0 or 8), inflated to at most `limit` bytes.
fn entry_data(
    zip: &[u8],
    local: usize,
    csize: usize,
    limit: usize,
    method: usize,
    name: &str,
) -> Result<Vec<u8>, String> {
    const LOCAL: usize = 0x0403_4b50;
    if u32_at(zip, local) != Some(LOCAL) {
        return Err(bad("broken local header"));
    }
    let (Some(lnlen), Some(lxlen)) = (u16_at(zip, local + 26), u16_at(zip, local + 28)) else {
        return Err(bad("short local header"));
    };
    let start = local + 30 + lnlen + lxlen;
    let raw = zip
        .get(start..start + csize)
        .ok_or_else(|| bad("an entry runs past the end"))?;
    Ok(match method {
        0 => raw.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, limit)
            .map_err(|_| format!("entry {name:?} does not inflate (or is larger than it says)"))?,
        m => {
            return Err(format!(
                "entry {name:?} uses compression method {m}; use stored or deflate"
            ))
        }
    })
}

/// A zip of `files`, stored (method 0) or deflated (8), with no CRCs:
/// what tests send as `additional_files`.
pub fn write(files: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let body = if deflate {
            miniz_oxide::deflate::compress_to_vec(data, 6)
        } else {
            data.to_vec()
        };
        let local = out.len() as u32;
        let method: u16 = if deflate { 8 } else { 0 };
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes());
            }
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&[0; 8]); // time, date, crc (not checked)
            h.extend_from_slice(&(body.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            if central {
                h.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&local.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(&body);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_at = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_deflated_entries_are_read() {
        for deflate in [false, true] {
            let z = write(&[("a.txt", b"hello"), ("b.py", &[b'x'; 1000])], deflate);
            let e = read(&z, 1 << 20).unwrap();
            assert_eq!(e.len(), 2);
            assert_eq!(
                (e[0].name.as_str(), e[0].data.as_slice()),
                ("a.txt", &b"hello"[..])
            );
            assert_eq!(e[1].data.len(), 1000);
        }
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let z = write(&[("big", &[0u8; 100_000])], true);
        assert!(read(&z, 10_000)
            .unwrap_err()
            .contains("more than 10000 bytes"));
        assert!(read(b"not a zip", 100).is_err());
        assert!(read(&z[..z.len() / 2], 1 << 20).is_err());
    }
}
