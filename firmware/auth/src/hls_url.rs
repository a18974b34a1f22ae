//! Signed, expiring HLS URLs, as pure functions of a key and the time.
//!
//! A signed URL carries its expiry and a signature in its path, not its query:
//! `/hls/signed/{expires}/{signature}/master.m3u8`. Players resolve the playlists' relative
//! URIs (rung playlists, segments) against that path, so the whole stream inherits the
//! grant; a query string would be dropped at the first relative URI.
//!
//! signature = base64url(HMAC-SHA256(key, "fourcast-hls-v1:" + expires)), expires in Unix
//! seconds. Checked in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signed path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not of the form `{expires}/{signature}/…`.
    Malformed,
    /// Past its expiry.
    Expired,
    /// The signature is not the box's.
    BadSignature,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Malformed => "not a signed HLS path (/hls/signed/{expires}/{signature}/…)",
            Refusal::Expired => "this signed HLS URL has expired: ask for a new one",
            Refusal::BadSignature => "this HLS URL's signature is not valid",
        })
    }
}

/// The signature of an expiry, base64url without padding.
pub fn sign(key: &[u8], expires: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac(key, expires))
}

/// The path prefix a player is given: `/hls/signed/{expires}/{signature}`.
pub fn prefix(key: &[u8], expires: u64) -> String {
    format!("/hls/signed/{expires}/{}", sign(key, expires))
}

/// Checks `rest` (what follows `/hls/signed/`) at `now` (Unix seconds); returns the path
/// of the file in the origin.
pub fn verify<'a>(key: &[u8], rest: &'a str, now: u64) -> Result<&'a str, Refusal> {
    let mut parts = rest.splitn(3, '/');
    let (Some(expires), Some(signature), Some(path)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| Refusal::Malformed)?;
    let given = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refusal::BadSignature)?;
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(format!("fourcast-hls-v1:{expires}").as_bytes());
    m.verify_slice(&given).map_err(|_| Refusal::BadSignature)?;
    if now >= expires {
        return Err(Refusal::Expired);
    }
    Ok(path)
}

fn mac(key: &[u8], expires: u64) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(format!("fourcast-hls-v1:{expires}").as_bytes());
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_path_grants_every_file_under_it_until_it_expires() {
        let p = prefix(KEY, 1_000);
        let rest = p.strip_prefix("/hls/signed/").unwrap();
        assert_eq!(
            verify(KEY, &format!("{rest}/master.m3u8"), 999),
            Ok("master.m3u8")
        );
        assert_eq!(
            verify(KEY, &format!("{rest}/720p/seg-00042.ts"), 0),
            Ok("720p/seg-00042.ts")
        );
        assert_eq!(
            verify(KEY, &format!("{rest}/master.m3u8"), 1_000),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn a_changed_expiry_signature_or_key_is_refused() {
        let sig = sign(KEY, 1_000);
        assert_eq!(
            verify(KEY, &format!("2000/{sig}/a.ts"), 0),
            Err(Refusal::BadSignature)
        );
        let mut bad = sig.clone().into_bytes();
        bad[0] = if bad[0] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(
            verify(KEY, &format!("1000/{bad}/a.ts"), 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(b"another key", &format!("1000/{sig}/a.ts"), 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(KEY, &format!("1000/{}/a.ts", &sig[..10]), 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(verify(KEY, "1000/%%%/a.ts", 0), Err(Refusal::BadSignature));
    }

    #[test]
    fn malformed_paths_are_refused() {
        for rest in ["", "1000", "1000/sig", "soon/sig/a.ts", "-1/sig/a.ts"] {
            assert_eq!(verify(KEY, rest, 0), Err(Refusal::Malformed), "{rest:?}");
        }
    }
}
