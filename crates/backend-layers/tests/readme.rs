//! The README's "Layers" example is the crate docs' doc-tested one, line for line.

#[test]
fn readme_example_is_the_doc_tested_one() {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme
        .find("## Layers")
        .expect("README has a Layers section")..];
    // The README block is `rust,ignore` (backend-file doc-tests the whole README) with
    // one comment line pointing here; the rest must be the crate docs' doc test.
    let fence = section.find("```rust,ignore\n").expect("a rust block") + "```rust,ignore\n".len();
    let start = fence + section[fence..].find('\n').expect("comment line") + 1;
    let block = &section[start..start + section[start..].find("```").expect("block end")];
    let lib = include_str!("../src/lib.rs");
    let doc: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(block.lines().count() >= 5, "example too short: {block}");
    assert!(
        doc.contains(block.trim_end()),
        "README example differs from the doc test in src/lib.rs:\n{block}"
    );
}
