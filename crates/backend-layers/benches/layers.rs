//! Placeholder, replaced by the layer benches.
fn main() {}
