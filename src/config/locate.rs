//! Finding where a key sits in the file, so errors found after parsing (validation, secret
//! files) can still say `line:column` like the parser's own errors do.

use toml_edit::{ImDocument, Item};

/// 1-based line and column of the byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
    (line, col)
}

/// Position of the value at `key` (`upload.part_size_mib`, `camera[1].name`,
/// `ftp.users[0].password_file`), or of its nearest enclosing table.
pub fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let doc = ImDocument::parse(text).ok()?;
    let mut item: &Item = doc.as_item();
    let mut best = None;
    for part in key.split('.') {
        let (name, index) = split_index(part);
        item = item.get(name)?;
        if let Some(i) = index {
            best = item.span().or(best);
            item = item.get(i)?;
        }
        best = item.span().or(best);
    }
    // Inline values' spans start at their leading whitespace.
    best.map(|span| {
        let skipped = text
            .get(span.start..)
            .map_or(0, |t| t.len() - t.trim_start_matches([' ', '\t']).len());
        line_col(text, span.start + skipped)
    })
}

/// The dotted key written on the line that holds byte `at` (`upload.part_size_mib`,
/// `camera[1].name`) when it is a plain `key = value` line: the parser reports syntax errors
/// (an integer too large, say) by place only, and the user should still see the key.
pub fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    for l in text[..start].lines() {
        let t = l.trim();
        if let Some(h) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let n = arrays.entry(h.trim().to_string()).or_insert(0);
            table = format!("{}[{n}]", h.trim());
            *n += 1;
        } else if let Some(h) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = h.trim().to_string();
        }
    }
    let (key, _) = text[start..].lines().next()?.split_once('=')?;
    let key = key.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if key.is_empty() || !key.chars().all(plain) {
        return None;
    }
    Some(if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    })
}

fn split_index(part: &str) -> (&str, Option<usize>) {
    match part.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse().ok()),
        None => (part, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_tables_and_arrays() {
        let text = "[upload]\npart_size_mib = 2\n\n[[camera]]\nname = \"a\"\n[[camera]]\nname = \"B\"\n\n[ftp]\nusers = [{ name = \"x\", password = \"p\" }]\n";
        assert_eq!(locate(text, "upload.part_size_mib"), Some((2, 17)));
        assert_eq!(locate(text, "camera[1].name"), Some((7, 8)));
        assert_eq!(locate(text, "ftp.users[0].password"), Some((10, 35)));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn the_key_on_a_line() {
        let text = "[upload]\npart_size_mib = 99999999999999999999\n[[camera]]\nname = 1\n[[camera]]\nname = 2\n";
        assert_eq!(key_at(text, 20).as_deref(), Some("upload.part_size_mib"));
        let at = text.rfind("name").unwrap() + 3;
        assert_eq!(key_at(text, at).as_deref(), Some("camera[1].name"));
        assert_eq!(key_at("[upload\n", 3), None);
    }
}
