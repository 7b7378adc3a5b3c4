//! `upload.key_template`: the placeholders it may use, and the keys it must never make.

/// Placeholders `key_template` understands.
const KEY_PLACEHOLDERS: &[&str] = &["yyyy", "mm", "dd", "hh", "camera", "device", "file"];

pub(super) fn key_template(t: &str) -> Result<(), (String, String)> {
    let key = "upload.key_template";
    let mut rest = t;
    let mut has_file = false;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return bad(key, "an unclosed `{`");
        };
        let name = &rest[open + 1..open + close];
        if !KEY_PLACEHOLDERS.contains(&name) {
            return bad(
                key,
                format!(
                    "unknown placeholder {{{name}}}; known: {}",
                    KEY_PLACEHOLDERS.join(", ")
                ),
            );
        }
        has_file |= name == "file";
        rest = &rest[open + close + 1..];
    }
    if !has_file {
        return bad(key, "must contain {file} so object keys are unique");
    }
    if t.starts_with('/') {
        return bad(key, "must not start with /");
    }
    // With the folder destination a key is a path: `..` would lead out of upload.dir, and
    // control characters make keys no server or person reads back the same.
    if t.split('/').any(|seg| seg == ".." || seg == ".") {
        return bad(key, "must not contain `.` or `..` path segments");
    }
    if t.chars().any(char::is_control) {
        return bad(key, "must not contain control characters or newlines");
    }
    Ok(())
}

fn bad(key: &str, reason: impl Into<String>) -> Result<(), (String, String)> {
    Err((key.to_string(), reason.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_templates() {
        assert!(key_template("{yyyy}/{mm}/{dd}/{camera}/{file}").is_ok());
        assert!(key_template("{device}/{file}").is_ok());
        assert!(key_template("{yyyy}/{camera}").is_err());
        assert!(key_template("{year}/{file}").is_err());
        assert!(key_template("{file").is_err());
        assert!(key_template("/{file}").is_err());
        assert!(key_template("../{file}").is_err());
        assert!(key_template("a/../../{file}").is_err());
        assert!(key_template("a/./{file}").is_err());
        assert!(key_template("a\n/{file}").is_err());
        assert!(key_template("v1..2/{file}").is_ok());
    }
}
