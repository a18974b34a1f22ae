use std::fmt;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: `ladder.rungs[2].height`, or `(document)` for syntax errors.
    pub path: String,
    /// Why, in words a technician understands.
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a config document (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<FieldError>);

impl ConfigErrors {
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(path, message)])
    }

    pub(crate) fn syntax(e: &toml::de::Error) -> Self {
        let at = e
            .span()
            .map(|s| format!(" (at byte {})", s.start))
            .unwrap_or_default();
        Self::one("(document)", format!("{}{at}", e.message().trim()))
    }

    pub(crate) fn from_serde(e: serde_path_to_error::Error<toml::de::Error>) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if path.is_empty() || path == "." {
            "(document)".to_string()
        } else {
            path
        };
        Self::deserializing(path, inner.message())
    }

    /// The error serde reported at `path` while reading a document (TOML, or JSON from the
    /// API). A shape error names its own field under `path` (see [`FieldShape`]).
    pub fn deserializing(path: String, message: &str) -> Self {
        match message.trim().split_once(FIELD_MARK) {
            Some((field, message)) => Self::one(format!("{path}.{field}"), message.to_string()),
            None => Self::one(path, message.trim().to_string()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A field that is wrong for its kind (of input, of SRT end); [`ConfigErrors::from_serde`]
/// puts `field` on the path serde reports (`inputs[1]` → `inputs[1].listen_port`).
#[derive(Debug)]
pub(crate) struct FieldShape {
    pub(crate) field: &'static str,
    pub(crate) message: String,
}

/// How a field error travels through serde's string-only custom errors: the field, this
/// separator, the message.
pub(crate) const FIELD_MARK: char = '\u{1f}';

impl std::fmt::Display for FieldShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{FIELD_MARK}{}", self.field, self.message)
    }
}
