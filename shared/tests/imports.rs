//! ARCHITECTURE "No import circle between modules", kept by a test: in each crate of the
//! workspace, the top-level modules (`config`, `service`, `console`, …) and, inside each
//! directory, the sibling files import one another without a circle.
//!
//! A reference is a `crate::…`, `$crate::…` or `super::…` path outside comments and outside the
//! file's `#[cfg(test)]` module (tests may reach anywhere). A parent's `mod.rs` and its children
//! are one module here: a child naming its parent, and the parent re-exporting its children, is
//! how Rust modules are built, not a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 3] = ["shared", "auth-server", "resource-api"];

/// A source file: its module path under `src` (`["service", "assertions"]`; empty for the
/// crate root) and its text without comments and test module.
struct File {
    module: Vec<String>,
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of `path` under `src`.
fn module_of(src: &Path, path: &Path) -> Vec<String> {
    let relative = path.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    match last.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        name => parts.push(name.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// The code of a file: comment lines dropped, and everything from a `#[cfg(test)]` that opens
/// a module on.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The paths a `use` or an expression names after a prefix: `a::b::C` → `[a, b, C]`;
/// `{a, b::c, d::{e, f}}` → `[a]`, `[b, c]`, `[d, e]`, `[d, f]`.
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let mut path = Vec::new();
    let mut tail = text;
    loop {
        if let Some(group) = tail.strip_prefix('{') {
            // Split the group's members at its own commas.
            let (mut depth, mut from, mut members) = (0usize, 0usize, Vec::new());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        members.push(&group[from..i]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        members.push(&group[from..i]);
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            return members
                .into_iter()
                .flat_map(|m| paths_at(m.trim()))
                .map(|p| path.iter().cloned().chain(p).collect())
                .collect();
        }
        let id = ident_at(tail);
        if id.is_empty() {
            break;
        }
        path.push(id.to_owned());
        tail = &tail[id.len()..];
        match tail.strip_prefix("::") {
            Some(t) => tail = t,
            None => break,
        }
    }
    if path.is_empty() {
        Vec::new()
    } else {
        vec![path]
    }
}

/// Every module path `code` (of the module `module`) names, made absolute: `crate::a::b`,
/// `$crate::a::b` and `super::a` (`super::super::a`, …).
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for prefix in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            // `foo_crate::` and `super::super::`'s second half are not a start; `$crate::` is.
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let base: Vec<String> = if prefix == "crate::" {
                Vec::new()
            } else {
                let mut ups = 1;
                let mut tail = rest;
                while let Some(t) = tail.strip_prefix("super::") {
                    ups += 1;
                    tail = t;
                }
                rest = tail;
                module[..module.len().saturating_sub(ups)].to_vec()
            };
            for p in paths_at(rest) {
                found.push(base.iter().cloned().chain(p).collect());
            }
        }
    }
    found
}

/// A circle in `edges`, if there is one, as the nodes along it.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut path = stack[start..].to_vec();
                    path.push(next.clone());
                    return Some(path);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node) {
            if let Some(c) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Every circle of one crate: in each directory (the crate's top-level modules first), between
/// the modules it holds. A file's reference to `crate::<dir>::<m>…` is an edge, in `<dir>`, from
/// the module of that directory the file is in to `<m>`.
fn circles_in(src: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let files: Vec<File> = paths
        .iter()
        .map(|p| File {
            module: module_of(src, p),
            code: code_of(&std::fs::read_to_string(p).expect("a readable source file")),
        })
        .collect();
    let modules: BTreeSet<&[String]> = files.iter().map(|f| f.module.as_slice()).collect();

    // Per directory (its module path), the edges between the modules in it.
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        for path in references(&file.module, &file.code) {
            for level in 0..file.module.len().min(path.len()) {
                let dir = &file.module[..level];
                if path[..level] != *dir || path[level] == file.module[level] {
                    continue;
                }
                let mut target = dir.to_vec();
                target.push(path[level].clone());
                if modules.contains(target.as_slice()) {
                    graphs
                        .entry(dir.to_vec())
                        .or_default()
                        .entry(file.module[level].clone())
                        .or_default()
                        .insert(path[level].clone());
                }
            }
        }
    }
    graphs
        .iter()
        .filter_map(|(dir, edges)| {
            circle(edges).map(|c| {
                let place = if dir.is_empty() {
                    "top-level modules".to_owned()
                } else {
                    format!("modules in {}/", dir.join("/"))
                };
                format!("{place}: {}", c.join(" → "))
            })
        })
        .collect()
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in CRATES {
        for c in circles_in(&root.join(krate).join("src")) {
            found.push(format!("{krate}: {c}"));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = std::env::temp_dir().join(format!("imports-test-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("service")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod config;\npub mod service;\n").unwrap();
    std::fs::write(src.join("config.rs"), "use crate::service::kek::Kek;\n").unwrap();
    std::fs::write(
        src.join("service/mod.rs"),
        "pub mod kek;\npub mod a;\npub mod b;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("service/kek.rs"),
        "// crate::config is only a comment\npub struct Kek;\n#[cfg(test)]\nmod tests { use crate::config; }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("service/a.rs"),
        "use super::b::B;\npub struct A;\n",
    )
    .unwrap();
    std::fs::write(src.join("service/b.rs"), "pub struct B;\n").unwrap();
    assert!(
        circles_in(&src).is_empty(),
        "comments and tests are not imports"
    );

    std::fs::write(
        src.join("service/b.rs"),
        "use crate::{config, service::a::A};\npub struct B;\n",
    )
    .unwrap();
    let found = circles_in(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("config → service → config")
            || found[0].contains("service → config → service"),
        "{found:?}"
    );
    assert!(
        found[1].contains("modules in service/: a → b → a")
            || found[1].contains("modules in service/: b → a → b"),
        "{found:?}"
    );
}
