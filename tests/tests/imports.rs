//! No import circles between the files of a crate, and the module graph in
//! `docs/architecture.md` is the one the code has.
//!
//! A file *uses* another when it names an item of the other's module: `crate::a::b::X`,
//! `super::X`, `self::child::X`, or `child::X` for a child it declares (`mod child;`).
//! Declaring a child (`mod child;`) is not a use, nor is a doc comment; unit tests
//! (`#[cfg(test)] mod tests` at the bottom of a file) are left out, since they may reach
//! anywhere. Two files that use each other, directly or through others, are a circle: the
//! test names every file of it.
//!
//! The graph between top-level modules (`web`'s `app`, `db`, `routes`, …) is written in
//! `docs/architecture.md` between the `<!-- module graph -->` markers, one line per module:
//! `crate/module → other, other`. Run with `LOAXA_WRITE_GRAPH=1` to write it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = ["schedules", "media", "settings", "web", "controller"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A module path, e.g. `["app", "policy"]` (the crate root is `[]`).
type Module = Vec<String>;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file holds (`None` for binaries' roots and `bin/`, which are crates of
/// their own).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") || parts == ["main.rs"] {
        return None;
    }
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_string()),
    }
    Some(parts)
}

/// The code without comments, string contents and the unit tests at the bottom.
fn code(text: &str) -> String {
    let mut body = text;
    for marker in ["\n#[cfg(test)]\nmod ", "\n#[cfg(test)]\npub mod "] {
        if let Some(i) = body.find(marker) {
            body = &body[..i];
        }
    }
    let mut out = String::with_capacity(body.len());
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || (b.get(i + 1) == Some(&b'"')) => {
                // A raw string: r"…", r#"…"#, …
                let start = i;
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                let ident_before =
                    start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
                if b.get(j) != Some(&b'"') || ident_before {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A char literal ('x', '\n', '\'') or a lifetime ('a): copy lifetimes.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    out.push('\'');
                    i += 1;
                }
            }
            c => {
                // Copy whole UTF-8 sequences.
                let len = match c {
                    0..=0x7f => 1,
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                out.push_str(std::str::from_utf8(&b[i..(i + len).min(b.len())]).unwrap_or(""));
                i += len;
            }
        }
    }
    out
}

fn ident(b: &[u8], i: &mut usize) -> Option<String> {
    let start = *i;
    while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_') {
        *i += 1;
    }
    (*i > start).then(|| String::from_utf8_lossy(&b[start..*i]).into_owned())
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

/// Every path in the tree at `b[i..]` (`a::b::{c, d::{e}}` gives `a::b::c`, `a::b::d::e`),
/// each as its segments after `prefix`.
fn tree(b: &[u8], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        skip_ws(b, i);
        if b.get(*i) == Some(&b'{') {
            *i += 1;
            loop {
                skip_ws(b, i);
                match b.get(*i) {
                    Some(b'}') => {
                        *i += 1;
                        return;
                    }
                    Some(b',') => *i += 1,
                    None => return,
                    _ => {
                        let before = *i;
                        tree(b, i, path.clone(), out);
                        if *i == before {
                            *i += 1;
                        }
                    }
                }
            }
        }
        match ident(b, i) {
            Some(id) => path.push(id),
            None => {
                if b.get(*i) == Some(&b'*') {
                    *i += 1;
                }
                out.push(path);
                return;
            }
        }
        if b[*i..].starts_with(b"::") {
            *i += 2;
        } else {
            out.push(path);
            return;
        }
    }
}

/// The modules a file's code names, resolved against the crate's modules.
fn uses(code: &str, here: &Module, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let b = code.as_bytes();
    // Children declared here: `mod x;`
    let children: BTreeSet<String> = code
        .lines()
        .filter_map(|l| {
            let l = l
                .trim()
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ");
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|s| s.trim().to_string())
        })
        .collect();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary =
            i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':');
        if !boundary || !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        let first = ident(b, &mut i).unwrap_or_default();
        if !b[i..].starts_with(b"::") {
            continue;
        }
        let base: Option<Module> = match first.as_str() {
            "crate" => Some(vec![]),
            "self" => Some(here.clone()),
            "super" => {
                let mut m = here.clone();
                m.pop();
                let mut j = i;
                while b[j..].starts_with(b"::super") {
                    m.pop();
                    j += 7;
                }
                i = j;
                Some(m)
            }
            c if children.contains(c) => {
                i = start;
                Some(here.clone())
            }
            _ => None,
        };
        let Some(base) = base else { continue };
        if i != start {
            i += 2;
        }
        let mut found = Vec::new();
        tree(b, &mut i, base, &mut found);
        paths.extend(found);
        if i == start {
            i += 1;
        }
    }
    let mut out = BTreeSet::new();
    for p in paths {
        // The longest prefix that is a module file.
        let m = (0..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| modules.contains(m))
            .unwrap_or_default();
        if &m != here {
            out.insert(m);
        }
    }
    out
}

struct Graph {
    /// file module → the modules it uses.
    edges: BTreeMap<Module, BTreeSet<Module>>,
    files: BTreeMap<Module, PathBuf>,
}

fn graph(krate: &str) -> Graph {
    let src = root().join(krate).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut files = BTreeMap::new();
    for f in all {
        if let Some(m) = module_of(&src, &f) {
            files.insert(m, f);
        }
    }
    let modules: BTreeSet<Module> = files.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (m, f) in &files {
        let text = std::fs::read_to_string(f).unwrap();
        edges.insert(m.clone(), uses(&code(&text), m, &modules));
    }
    Graph { edges, files }
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(g: &Graph) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(t: &mut T, v: &Module) {
        t.index.insert(v.clone(), t.next);
        t.low.insert(v.clone(), t.next);
        t.next += 1;
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let targets: Vec<Module> = t.g.edges.get(v).into_iter().flatten().cloned().collect();
        for w in targets {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "(root)".into()
    } else {
        m.join("::")
    }
}

/// The graph between top-level modules, one line per module: `crate/a → b, c`.
fn top_level(krate: &str, g: &Graph) -> Vec<String> {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &g.edges {
        let Some(f) = from.first() else { continue };
        let entry = top.entry(f.clone()).or_default();
        for to in tos {
            match to.first() {
                Some(t) if t != f => {
                    entry.insert(t.clone());
                }
                _ => {}
            }
        }
    }
    top.into_iter()
        .map(|(m, tos)| {
            let tos: Vec<String> = tos.into_iter().collect();
            if tos.is_empty() {
                format!("{krate}/{m}")
            } else {
                format!("{krate}/{m} → {}", tos.join(", "))
            }
        })
        .collect()
}

const BEGIN: &str = "<!-- module graph: written by tests/tests/imports.rs -->";
const END: &str = "<!-- end of module graph -->";

#[test]
fn no_file_imports_itself_through_others() {
    let mut report = String::new();
    for krate in CRATES {
        let g = graph(krate);
        for c in circles(&g) {
            report.push_str(&format!("{krate}: a circle between files:\n"));
            for m in &c {
                let uses: Vec<String> = g.edges[m]
                    .iter()
                    .filter(|t| c.contains(t))
                    .map(name)
                    .collect();
                report.push_str(&format!(
                    "  {} ({}) uses {}\n",
                    name(m),
                    g.files[m]
                        .strip_prefix(root())
                        .unwrap_or(&g.files[m])
                        .display(),
                    uses.join(", ")
                ));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn the_module_graph_in_the_docs_is_the_code_s() {
    let mut lines = Vec::new();
    for krate in CRATES {
        lines.extend(top_level(krate, &graph(krate)));
    }
    let want = format!("{BEGIN}\n```\n{}\n```\n{END}", lines.join("\n"));
    let path = root().join("docs/architecture.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(a), Some(b)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/architecture.md has no {BEGIN} … {END} block");
    };
    let have = &doc[a..b + END.len()];
    if have != want {
        if std::env::var_os("LOAXA_WRITE_GRAPH").is_some() {
            let new = format!("{}{want}{}", &doc[..a], &doc[b + END.len()..]);
            std::fs::write(&path, new).unwrap();
        } else {
            panic!(
                "docs/architecture.md's module graph is not the code's; run \
                 `LOAXA_WRITE_GRAPH=1 cargo test -p tests --test imports` and review the \
                 diff. The code's:\n{want}"
            );
        }
    }
}

#[test]
fn the_reader_finds_uses_and_ignores_comments_and_strings() {
    let modules: BTreeSet<Module> = [
        vec![],
        vec!["a".to_string()],
        vec!["a".to_string(), "b".to_string()],
        vec!["c".to_string()],
        vec!["d".to_string()],
    ]
    .into_iter()
    .collect();
    let src = r##"
        // crate::d::x in a comment
        /* crate::d::y */
        use crate::{a::b::{X, Y}, c};
        mod b;
        fn f() { let s = "crate::d::z"; let r = r#"crate::d"#; super::Thing; b::go(); }
    "##;
    let here = vec!["a".to_string()];
    let got = uses(&code(src), &here, &modules);
    let want: BTreeSet<Module> = [
        vec![],
        vec!["a".to_string(), "b".to_string()],
        vec!["c".to_string()],
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}
