//! Object keys and query values in URLs, encoded by SigV4's canonical rules: every byte but
//! the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) as `%XX`, `/` kept in keys. The
//! URL sent is then byte for byte what the server signs, whatever the key holds (a `+`, a
//! space, `:=@,!`, unicode).

/// `s` encoded; `/` kept when `keep_slash` (object keys), encoded otherwise (query values).
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&k=v`, each side encoded.
pub fn query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(encode("a/b c+d", true), "a/b%20c%2Bd");
        assert_eq!(encode("a/b", false), "a%2Fb");
        assert_eq!(
            encode(":=@,!()'*$&;[]", true),
            "%3A%3D%40%2C%21%28%29%27%2A%24%26%3B%5B%5D"
        );
        assert_eq!(encode("ü", true), "%C3%BC");
        assert_eq!(encode("AZaz09-._~", false), "AZaz09-._~");
    }

    #[test]
    fn queries() {
        assert_eq!(
            query(&[("uploads", String::new()), ("prefix", "a b/+".into())]),
            "uploads=&prefix=a%20b%2F%2B"
        );
    }
}
