//! `application/x-www-form-urlencoded` bodies, as the WHATWG URL standard decodes them:
//! pairs split on `&`, name and value split on the first `=`, `+` is a space, `%XX` is a byte.
//! The decoded bytes must be UTF-8.

use crate::error::{Error, ErrorKind};

/// Decode every `name=value` pair of a form body, in order.
///
/// Unlike browsers, which keep a malformed `%` escape as literal text, a `%` not followed by
/// two hex digits is an error: the payloads here are machine-written, so a bad escape means a
/// truncated or mangled body.
pub(crate) fn decode_pairs(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Percent-decode one component (`+` is a space).
pub(crate) fn decode(s: &[u8]) -> Result<String, Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: u8| char::from(c).to_digit(16);
                let (Some(h), Some(l)) =
                    (s.get(i + 1).and_then(|c| hex(*c)), s.get(i + 2).and_then(|c| hex(*c)))
                else {
                    return Err(Error::new(
                        ErrorKind::InvalidValue,
                        format!("invalid percent escape at byte {i} of a form field"),
                    ));
                };
                // Two hex digits make at most 0xff.
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "a decoded form field is not valid utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_space_and_escapes_are_bytes() {
        let pairs = decode_pairs(b"a=1+2%2B3&b=%E2%9C%93&flag&=x").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1 2+3".into()),
                ("b".into(), "\u{2713}".into()),
                ("flag".into(), String::new()),
                (String::new(), "x".into()),
            ]
        );
    }

    #[test]
    fn bad_escapes_and_bad_utf8_are_errors() {
        assert_eq!(decode(b"%4").unwrap_err().code(), "invalid_value");
        assert_eq!(decode(b"%zz").unwrap_err().code(), "invalid_value");
        assert_eq!(decode(b"%ff").unwrap_err().code(), "invalid_utf8");
    }
}
