//! Basic auth for every request. The comparison takes the same time however much of a
//! guess is right, and a failure says only "who are you" (401 with a challenge).

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::Web;

pub(super) async fn require(State(web): State<Web>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given.is_some_and(|h| accepts(h, &web.user, web.password.expose())) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"camvault\", charset=\"UTF-8\"",
        )],
        "401: this device's user and password are in credentials.txt on its card\n",
    )
        .into_response()
}

/// Whether an `Authorization` header carries `user` and `password`.
pub(super) fn accepts(header: &str, user: &str, password: &str) -> bool {
    let Some(encoded) = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let (u, p) = (&decoded[..colon], &decoded[colon + 1..]);
    // Both compared in full, so timing tells nothing about which part was wrong.
    same(u, user.as_bytes()) & same(p, password.as_bytes())
}

fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::accepts;
    use base64::Engine;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn only_the_right_pair_passes() {
        assert!(accepts(&basic("admin:s3cret-pass"), "admin", "s3cret-pass"));
        assert!(accepts(
            &basic("admin:s3cret-pass").replace("Basic", "basic"),
            "admin",
            "s3cret-pass"
        ));
        for wrong in [
            basic("admin:s3cret-pas"),
            basic("admin:s3cret-passs"),
            basic("root:s3cret-pass"),
            basic("admin"),
            basic(":"),
            "Basic !!!".to_string(),
            "Bearer abc".to_string(),
            "Basic".to_string(),
            String::new(),
        ] {
            assert!(!accepts(&wrong, "admin", "s3cret-pass"), "{wrong}");
        }
        // A password with a colon in it is the part after the first one.
        assert!(accepts(&basic("admin:a:b:c12345"), "admin", "a:b:c12345"));
    }
}
