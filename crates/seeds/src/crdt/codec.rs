//! The stored form of a group's state: a version byte, then postcard.
//!
//! ```text
//! 0x01 (codec version) | postcard(state)
//! ```
//!
//! postcard: a serde format whose wire format is specified and frozen since its 1.0
//! (varint integers, length-prefixed sequences, no field names), compact and among the
//! fastest serde codecs, with no schema to ship. The version byte names this layout:
//! a future codec gets `0x02`, and a reader refuses a version it does not know with
//! [`Error::Corruption`] instead of misreading it. Like every non-self-describing
//! format it does not survive reordering or retyping the fields of the state type:
//! change the type only by adding a new type and migrating.

use backend_api::{Error, Result};
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};

/// The codec version this build writes and reads.
pub const CODEC_VERSION: u8 = 1;

/// `state` in its stored form.
pub fn encode<T: Serialize>(state: &T) -> Result<Bytes> {
    let out = postcard::to_extend(state, vec![CODEC_VERSION]).map_err(|e| Error::InvalidValue {
        reason: format!("the state cannot be encoded: {e}"),
    })?;
    Ok(Bytes::from(out))
}

/// The state in `stored`; [`Error::Corruption`] (naming `group`) when it is not a state
/// of type `T` in a known codec version.
pub fn decode<T: DeserializeOwned>(group: &str, stored: &[u8]) -> Result<T> {
    let bad = |why: String| Error::Corruption {
        detail: format!("CRDT group {group:?}: {why}"),
    };
    match stored.split_first() {
        Some((&CODEC_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| bad(format!("undecodable state ({e})")))
        }
        Some((v, _)) => Err(bad(format!("unknown codec version {v}"))),
        None => Err(bad("empty record".into())),
    }
}
