//! The admin docs keep up with the parameter table.

#[test]
fn the_admin_guide_documents_every_parameter() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/admin-guide.md")).unwrap();
    for spec in iscsi_mirror::params::PARAMS {
        assert!(
            guide.contains(&format!("| `{}` |", spec.name)),
            "docs/admin-guide.md lacks {}",
            spec.name
        );
    }
}
