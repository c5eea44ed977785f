//! The README's quickstart and `examples/quickstart.rs` are the same program.

#[test]
fn readme_quickstart_is_the_example() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../examples/quickstart.rs");
    let start = readme
        .find("```rust,no_run\n")
        .expect("README has a quickstart block")
        + 15;
    let len = readme[start..]
        .find("```")
        .expect("quickstart block is closed");
    let body: String = example
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(body, &readme[start..start + len], "edit both together");
}
