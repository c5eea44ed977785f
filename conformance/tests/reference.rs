//! The whole battery against the reference backend: every case must pass.

conformance::battery!(conformance::reference::ReferenceHarness);

// A second instantiation under a module name, as a backend would for a second
// configuration; also runs the mutant check the way a backend crate would.
conformance::battery!(again: conformance::reference::ReferenceHarness);
conformance::mutant_check!(conformance::reference::ReferenceHarness);
