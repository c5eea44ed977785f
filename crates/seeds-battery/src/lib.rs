//! Seeds batteries (work in progress).
#![deny(unsafe_code)]
