//! What makes a valid name for an input, a rung, a scene or an uplink: it appears in URLs,
//! file names and metric labels. A leaf module, so every section's check can use it.

/// 1 to 32 ASCII letters, digits, `-` or `_`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}
