//! Partition names.

use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};

/// The longest partition name, in characters.
pub const MAX_PARTITION_NAME_LEN: usize = 64;

/// The prefix reserved for [`Partition::system`] names.
pub const SYSTEM_PREFIX: &str = "sys_";

/// A validated partition name: 1 to 64 characters of `[A-Za-z0-9_]`, case-sensitive.
///
/// A partition is an isolated ordered map inside a backend. Cloning is cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    name: Arc<str>,
}

impl Partition {
    /// A user partition. Names starting with `sys_` are reserved and rejected here.
    ///
    /// ```
    /// use backend_api::Partition;
    /// assert_eq!(Partition::new("users").unwrap().name(), "users");
    /// assert!(Partition::new("a/b").is_err());
    /// assert!(Partition::new("sys_meta").is_err());
    /// ```
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        let name = name.as_ref();
        if name.starts_with(SYSTEM_PREFIX) {
            return Err(invalid(
                name,
                "names starting with sys_ are reserved for Partition::system",
            ));
        }
        Self::parse(name)
    }

    /// A system partition named `sys_` + `name`, for the application's own metadata.
    pub fn system(name: impl AsRef<str>) -> Result<Self> {
        Self::parse(format!("{SYSTEM_PREFIX}{}", name.as_ref()))
    }

    /// Any valid name, user or system: for backends restoring names they stored.
    pub fn parse(name: impl AsRef<str>) -> Result<Self> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(invalid(name, "the name is empty"));
        }
        if name.len() > MAX_PARTITION_NAME_LEN {
            return Err(invalid(name, "the name is longer than 64 characters"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(
                name,
                "the name has a character outside [A-Za-z0-9_]",
            ));
        }
        Ok(Partition { name: name.into() })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for names made by [`Partition::system`].
    pub fn is_system(&self) -> bool {
        self.name.starts_with(SYSTEM_PREFIX)
    }
}

fn invalid(name: &str, reason: &'static str) -> Error {
    Error::InvalidPartitionName {
        name: name.to_owned(),
        reason,
    }
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partition({:?})", &*self.name)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl AsRef<str> for Partition {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_every_bad_name() {
        let long = "a".repeat(65);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "*",
            "é",
            "a b",
            long.as_str(),
            "sys_x",
        ] {
            assert!(
                matches!(Partition::new(bad), Err(Error::InvalidPartitionName { .. })),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn accepts_the_limits() {
        assert!(Partition::new("a".repeat(64)).is_ok());
        assert!(Partition::new("A_z_09").is_ok());
        let sys = Partition::system("meta").unwrap();
        assert_eq!(sys.name(), "sys_meta");
        assert!(sys.is_system());
        assert!(Partition::system("a".repeat(61)).is_err());
    }
}
