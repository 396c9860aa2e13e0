//! The dependency rule: the domain depends on no adapter and no framework. This test fails when
//! diesel, actix, r2d2 or config enters `parley_domain`'s dependency tree.

use std::process::Command;

const BANNED: [&str; 4] = ["diesel", "actix", "r2d2", "config"];

#[test]
fn the_domain_depends_on_no_framework_or_adapter() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "parley_domain",
            "--all-features",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("serde"), "the tree was read: {tree}");
    let offenders: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            BANNED.iter().any(|banned| {
                *name == *banned
                    || name.starts_with(&format!("{banned}-"))
                    || name.starts_with(&format!("{banned}_"))
            })
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "parley_domain must not depend on {offenders:?}:\n{tree}"
    );
}
