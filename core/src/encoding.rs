//! Base64 and hex, both directions: the one place mailstate encodes or decodes them (core, and
//! the crates on top of it: the plugin hash in `mailstate-sql`, HTTP Basic credentials and
//! body names in the CLI).
//!
//! The decoders are strict (every byte string has exactly one accepted encoding), since
//! signatures, keys and wire bodies come through them.

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Standard base64 (RFC 4648 §4) with padding.
///
/// ```
/// assert_eq!(mailstate_core::encoding::encode_base64(b"foob"), "Zm9vYg==");
/// ```
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict standard base64 (RFC 4648 §4): padding optional but correct when present, no
/// whitespace, no trailing garbage, unused bits zero.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let unpadded = match bytes {
        [rest @ .., b'=', b'='] if bytes.len().is_multiple_of(4) => rest,
        [rest @ .., b'='] if bytes.len().is_multiple_of(4) => rest,
        _ => bytes,
    };
    if unpadded.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(unpadded.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in unpadded {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits).to_le_bytes()[0]);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero, so that every byte string has exactly one encoding.
    (acc == 0).then_some(out)
}

/// Lowercase or uppercase hex, even length.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// Lowercase hex.
///
/// ```
/// assert_eq!(mailstate_core::encoding::encode_hex(&[0, 0xa5, 0xff]), "00a5ff");
/// ```
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_examples_and_round_trips() {
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")]
        {
            assert_eq!(encode_base64(i.as_bytes()), o);
            assert_eq!(decode_base64(o).unwrap(), i.as_bytes());
        }
        let bytes = [0xff, 0x00, 0xfe, 0x80];
        assert_eq!(decode_base64(&encode_base64(&bytes)).unwrap(), bytes);
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("aGVsbG9=").is_none(), "non-zero leftover bits");
        assert!(decode_base64("aGVs bG8=").is_none());
        assert!(decode_base64("aGVsbG8==").is_none());
        assert!(decode_base64("a").is_none());
        assert!(decode_base64("a-b_").is_none());
    }

    #[test]
    fn hex_round_trips_and_rejects_odd_or_foreign() {
        assert_eq!(decode_hex("00ffA0").unwrap(), [0, 255, 160]);
        assert!(decode_hex("abc").is_none());
        assert!(decode_hex("zz").is_none());
    }

    #[test]
    fn hex_encodes_lowercase() {
        assert_eq!(encode_hex(&[0, 255, 160]), "00ffa0");
        assert_eq!(decode_hex(&encode_hex(&[1, 2, 254])).unwrap(), [1, 2, 254]);
    }
}
