//! Ruby's renderings that Judge0's clients parse: `Base64.encode64`'s line
//! wrapping, the lenient `Base64.decode64`, `Float#to_s` seconds, and the
//! millisecond timestamps of Judge0's serializer.

use base64::Engine as _;

/// Ruby's `Base64.encode64`: a `\n` after every 60 characters and at the end.
pub fn encode64(bytes: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Ruby's lenient `Base64.decode64`: characters outside the alphabet are
/// skipped, and decoding stops at the first `=`.
pub fn decode64(s: &str) -> Vec<u8> {
    let mut clean: Vec<u8> = s
        .bytes()
        .take_while(|b| *b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .unwrap_or_default()
}

/// Seconds as Judge0 writes them (`"0.001"`, `"5.0"`): Ruby's `Float#to_s`.
pub fn seconds(ms: u64) -> String {
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

/// `2024-04-03T05:40:51.306Z`, as Judge0 (and the SDK's parser) writes it.
/// Kiln's own timestamps are written the same way.
pub fn timestamp(ms: i64) -> String {
    crate::model::rfc3339(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_wrapped_as_ruby_does() {
        assert_eq!(encode64(b"hello, Judge0\n"), "aGVsbG8sIEp1ZGdlMAo=\n");
        let long = encode64(&[b'a'; 100]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines[0].len(), 60);
        assert!(long.ends_with('\n'));
        assert_eq!(decode64(&long), vec![b'a'; 100]);
        assert_eq!(decode64("aGk=\n"), b"hi");
        assert_eq!(decode64("aG k"), b"hi");
    }

    #[test]
    fn seconds_are_written_as_ruby_floats() {
        assert_eq!(seconds(1), "0.001");
        assert_eq!(seconds(5000), "5.0");
        assert_eq!(seconds(1500), "1.5");
        assert_eq!(seconds(0), "0.0");
    }
}
