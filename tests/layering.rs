//! The shared library's layering, read from its source: no two modules (files, nor
//! top-level modules) import each other however indirectly, each imports only from its
//! layer and those below (docs/architecture.md), and the stores import
//! nothing from the handlers or what wires them. Test-only code (`#[cfg(test)]`) is left
//! out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`oauth::token`, `crate` for lib.rs) → source without its test code.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/src");
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).unwrap().with_extension("");
                let mut name = relative.to_str().unwrap().replace('/', "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_owned();
                }
                if name == "lib" {
                    name = "crate".to_owned();
                }
                files.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let test_only: BTreeSet<String> = files
        .iter()
        .flat_map(|(name, source)| {
            let parent = if name == "crate" {
                String::new()
            } else {
                format!("{name}::")
            };
            source
                .split("#[cfg(test)]")
                .skip(1)
                .filter_map(|after| {
                    let child = after.trim_start().strip_prefix("mod ")?;
                    let child = child.split(';').next()?;
                    (!child.contains('{')).then(|| format!("{parent}{}", child.trim()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    files
        .into_iter()
        // A test-only module's own modules are test-only too.
        .filter(|(name, _)| {
            !test_only
                .iter()
                .any(|t| name == t || name.starts_with(&format!("{t}::")))
        })
        .map(|(name, source)| {
            let code = source.split("#[cfg(test)]").next().unwrap().to_owned();
            (name, code)
        })
        .collect()
}

/// The paths a `crate::…` reference names, braces expanded: `crate::a::{b, c::{d}}` names
/// `a::b` and `a::c::d`.
fn paths_after(text: &str, prefix: &str, out: &mut Vec<String>) {
    let mut rest = text.trim_start();
    let mut path = prefix.to_owned();
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(&rest[..end]);
            rest = &rest[end..];
        }
        if let Some(after) = rest.strip_prefix("::") {
            rest = after;
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' | ',' if depth == 1 => {
                            paths_after(&group[start..i], &path, out);
                            start = i + 1;
                            if c == '}' {
                                return;
                            }
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                return;
            }
            continue;
        }
        out.push(path);
        return;
    }
}

/// Each module's imports of other modules of the library.
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let resolve = |path: &str| {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains_key(candidate))
    };
    modules
        .iter()
        .map(|(name, code)| {
            let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
            let mut named = Vec::new();
            for (prefix, base) in [("crate::", ""), ("super::", parent)] {
                for piece in code.split(prefix).skip(1) {
                    paths_after(piece, base, &mut named);
                }
            }
            let targets = named
                .iter()
                .filter_map(|path| resolve(path))
                .filter(|target| target != name && target != "crate")
                .collect();
            (name.clone(), targets)
        })
        .collect()
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn top(module: &str) -> String {
    module.split("::").next().unwrap().to_owned()
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let files = imports(&modules());
    assert!(
        files["oauth::token"].contains("store"),
        "the reader reads: {files:?}"
    );
    assert_eq!(cycle(&files), None, "an import cycle between files");
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in &files {
        let entry = tops.entry(top(module)).or_default();
        entry.extend(targets.iter().map(|t| top(t)).filter(|t| *t != top(module)));
    }
    assert_eq!(
        cycle(&tops),
        None,
        "an import cycle between top-level modules"
    );
}

/// The layers of docs/architecture.md, lowest first.
const LAYERS: [&[&str]; 6] = [
    // base
    &[
        "http",
        "config",
        "pkce",
        "scope",
        "redirect_uri",
        "secret",
        "random",
        "digest",
        "clock",
        "password",
        "aws",
        "aws_calls",
        "metrics",
        "telemetry",
    ],
    // domain
    &[
        "clients",
        "records",
        "alta",
        "directory",
        "federation",
        "rbac",
        "token_verifier",
        "jwt",
        "jwks",
        "keys",
        "key_rotation",
    ],
    // storage
    &["store", "account_data", "demo"],
    // wiring
    &["deps", "error"],
    // frame
    &["endpoint"],
    // handlers
    &["oauth", "mcp", "routes"],
];

#[test]
fn each_module_imports_only_from_its_layer_and_those_below() {
    let layer_of = |module: &str| {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or_else(|| {
                panic!("{module} is in no layer: add it here and to docs/architecture.md")
            })
    };
    for (module, targets) in imports(&modules()) {
        let from = top(&module);
        if from == "crate" {
            continue;
        }
        for target in targets {
            let to = top(&target);
            assert!(
                layer_of(&to) <= layer_of(&from),
                "{module} imports {target}, from a layer above it"
            );
        }
    }
}

#[test]
fn the_stores_import_nothing_from_the_handlers() {
    let files = imports(&modules());
    for (module, targets) in files.iter().filter(|(m, _)| top(m) == "store") {
        let upward: Vec<&String> = targets
            .iter()
            .filter(|t| ["oauth", "mcp", "deps", "endpoint", "routes"].contains(&top(t).as_str()))
            .collect();
        assert!(upward.is_empty(), "{module} imports {upward:?}");
    }
}

#[test]
fn the_reader_finds_cycles_and_expands_braces() {
    let mut named = Vec::new();
    paths_after("a::{b, c::{d, e}}, f};", "", &mut named);
    assert_eq!(named, ["a::b", "a::c::d", "a::c::e"]);
    let graph = BTreeMap::from([
        ("x".to_owned(), BTreeSet::from(["y".to_owned()])),
        ("y".to_owned(), BTreeSet::from(["x".to_owned()])),
    ]);
    assert_eq!(cycle(&graph).unwrap().len(), 3);
}
