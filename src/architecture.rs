//! The house rules between the top-level folders, checked on the source itself: the flow core
//! depends only on the wire types, and no two folders import each other, directly or around a
//! circle. A `crate::…` path in a file counts as an import of that folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every top-level module and the other top-level modules its files name.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "bin", "architecture"].contains(&name.as_str()) {
            continue;
        }
        let mut named = BTreeSet::new();
        for file in rust_files(&path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() && module != name {
                    named.insert(module);
                }
            }
        }
        graph
            .entry(name)
            .or_insert_with(BTreeSet::new)
            .extend(named);
    }
    graph
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return (path.extension().is_some_and(|e| e == "rs"))
            .then(|| path.to_path_buf())
            .into_iter()
            .collect();
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files
}

#[test]
fn the_flow_core_imports_only_the_wire_types() {
    let graph = imports();
    let flow: Vec<_> = graph["flow"].iter().collect();
    assert_eq!(flow, ["wire"], "src/flow/ may name only crate::wire");
    assert!(
        graph["wire"].is_empty(),
        "src/wire/ names {:?}",
        graph["wire"]
    );
}

#[test]
fn no_two_top_level_folders_import_each_other_even_around_a_circle() {
    let graph = imports();
    // Depth-first search for a back edge; the path says where the circle runs.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(start) = path.iter().position(|n| *n == node) {
            panic!("import circle: {} -> {node}", path[start..].join(" -> "));
        }
        if !done.insert(node) {
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
    assert!(graph.len() >= 9, "the folders were found: {graph:?}");
}
