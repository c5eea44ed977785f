//! The whole battery against the reference backend: every case must pass.

conformance::battery!(conformance::reference::ReferenceHarness);
