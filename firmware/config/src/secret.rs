//! Stream keys and passphrases.
//!
//! A [`Secret`] never shows its value by accident: `Debug` prints `***`, and serialising a
//! plain secret writes `***` too, so a config read back through the API or written to a log
//! is redacted by construction. Only a *sealed* secret (encrypted with the device key by the
//! store, `sealed:…`) serialises as itself, which is how it is kept at rest.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// What a redacted secret reads as; sent back unchanged, it means "keep the stored value".
pub const REDACTED: &str = "***";
/// The prefix of a secret encrypted at rest.
pub const SEALED_PREFIX: &str = "sealed:";

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must use it (the element's property).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `***`: the client did not send the value, it means the stored one.
    pub fn is_redacted(&self) -> bool {
        self.0 == REDACTED
    }

    /// Encrypted with a device key; only that device can read it.
    pub fn is_sealed(&self) -> bool {
        self.0.starts_with(SEALED_PREFIX)
    }

    /// A plain value a client typed (not `***`, not sealed).
    pub fn is_plain(&self) -> bool {
        !self.is_redacted() && !self.is_sealed()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_sealed() {
            s.serialize_str(&self.0)
        } else {
            s.serialize_str(REDACTED)
        }
    }
}

/// Where every secret in a config lives, with its field path.
pub struct SecretRef<'a> {
    pub path: String,
    /// The destination that owns it (its `name`), to carry a stored value over.
    pub owner: String,
    /// Where the secret is sent (an uplink's host and port, or URL; empty for an input,
    /// whose secret stays in the box): a stored value is carried over only to the same
    /// place, so `***` cannot send a key to a server it was not given for.
    pub target: String,
    pub secret: &'a mut Secret,
}
