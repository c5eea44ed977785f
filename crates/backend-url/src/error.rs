//! What can be wrong with a URL, and with opening the store it names.

/// A URL that does not name a store this build can open. Each variant names the part
/// that is wrong and what would be accepted; none echoes a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The text is not `scheme:...`, or a part of it cannot be read.
    #[error("malformed URL: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No backend answers to this scheme.
    #[error("unknown scheme `{scheme}`: use one of {known}")]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
        /// The schemes this crate knows, comma-separated.
        known: String,
    },
    /// The scheme is known but its backend was not compiled in.
    #[error(
        "`{scheme}://` needs the `{feature}` feature of backend-url (kvb: `cargo install --path crates/kvb --features {feature}`): enable the `{feature}` feature"
    )]
    FeatureDisabled {
        /// The scheme given.
        scheme: String,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// A query parameter this backend does not take.
    #[error("unknown parameter `{param}` for `{scheme}://`: use one of {allowed}")]
    UnknownParam {
        /// The scheme of the URL.
        scheme: String,
        /// The parameter given.
        param: String,
        /// The parameters this backend takes, comma-separated.
        allowed: String,
    },
    /// A parameter given twice.
    #[error("parameter `{param}` is given twice")]
    DuplicateParam {
        /// The parameter.
        param: String,
    },
    /// A parameter whose value cannot be read.
    #[error("parameter `{param}={value}`: expected {expected}")]
    BadParam {
        /// The parameter.
        param: String,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// A configuration that no URL can express (e.g. TLS certificates given as bytes).
    #[error("this configuration has no URL form: {reason}")]
    NotRepresentable {
        /// What cannot be written as a URL.
        reason: String,
    },
}

impl UrlError {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        UrlError::Malformed {
            reason: reason.into(),
        }
    }
}

/// Why [`open`](crate::open) failed: the URL, or the backend refusing to open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL is wrong; nothing was opened.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The URL was understood and the backend refused to open (I/O, locked, server
    /// unreachable, invalid setting).
    #[error("cannot open {scheme}:// store: {source}")]
    Backend {
        /// The scheme of the store.
        scheme: &'static str,
        /// The backend's error.
        #[source]
        source: backend_api::Error,
    },
}

impl From<OpenError> for backend_api::Error {
    /// URL errors become `InvalidConfig`; backend errors pass through unchanged.
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Url(u) => backend_api::Error::InvalidConfig {
                detail: u.to_string(),
                source: Some(Box::new(u)),
            },
            OpenError::Backend { source, .. } => source,
        }
    }
}
