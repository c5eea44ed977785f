//! Placeholder, replaced by the observe example.
fn main() {}
