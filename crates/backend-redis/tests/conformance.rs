//! The conformance battery against a real redis-server (see `common`).

mod common;

conformance::battery!(common::RedisHarness);
