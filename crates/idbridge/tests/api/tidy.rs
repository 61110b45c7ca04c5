//! Repository rules, checked by plain `cargo test` (in the manner of rust-analyzer's
//! tidy tests): the architecture invariants of ARCHITECTURE.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn crates() -> BTreeMap<String, toml::Table> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(workspace_root().join("crates")).expect("crates/") {
        let path = entry.expect("entry").path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let table: toml::Table = text.parse().expect("Cargo.toml parses");
            let name = table["package"]["name"].as_str().expect("name").to_owned();
            out.insert(name, table);
        }
    }
    out
}

fn normal_dependencies(manifest: &toml::Table) -> Vec<String> {
    manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

/// Which crates may not depend on which.
const FORBIDDEN: &[(&str, &[&str])] = &[
    // Protocol cores and the shared vocabulary do no I/O.
    (
        "idbridge-core",
        &[
            "tokio",
            "axum",
            "sqlx",
            "reqwest",
            "hyper",
            "idbridge-store",
            "idbridge-server",
        ],
    ),
    (
        "idbridge-saml",
        &[
            "tokio",
            "axum",
            "sqlx",
            "reqwest",
            "hyper",
            "idbridge-store",
            "idbridge-server",
        ],
    ),
    (
        "idbridge-scim",
        &[
            "tokio",
            "axum",
            "sqlx",
            "reqwest",
            "hyper",
            "idbridge-store",
            "idbridge-server",
        ],
    ),
    (
        "idbridge-oidc",
        &[
            "tokio",
            "axum",
            "sqlx",
            "reqwest",
            "hyper",
            "idbridge-store",
            "idbridge-server",
        ],
    ),
    // Only the store knows SQL; only the server knows HTTP.
    (
        "idbridge-store",
        &[
            "axum",
            "http",
            "hyper",
            "tower",
            "tower-http",
            "idbridge-server",
            "reqwest",
        ],
    ),
    // The application layer speaks no HTTP and no SQL: the product's rules, over the
    // store, for every surface. (Its inputs and answers derive OpenAPI schemas, which
    // describe JSON, not HTTP.)
    (
        "idbridge-app",
        &[
            "axum",
            "http",
            "hyper",
            "tower",
            "tower-http",
            "askama",
            "utoipa-axum",
            "sqlx",
            "idbridge-server",
        ],
    ),
    ("idbridge-server", &["sqlx"]),
    ("idbridge", &["sqlx"]),
];

#[test]
fn crates_respect_the_layering() {
    let crates = crates();
    for required in ["idbridge-core", "idbridge-store", "idbridge-app"] {
        assert!(crates.contains_key(required), "{required} is missing");
    }
    for (krate, forbidden) in FORBIDDEN {
        let Some(manifest) = crates.get(*krate) else {
            continue;
        };
        let deps = normal_dependencies(manifest);
        for dep in *forbidden {
            assert!(
                !deps.iter().any(|d| d == dep),
                "{krate} must not depend on {dep} (see ARCHITECTURE.md)"
            );
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_stubs_and_no_sql_outside_the_store() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let stub_markers = [concat!("todo", "!("), concat!("unimplemented", "!(")];
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let relative = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for marker in stub_markers {
            assert!(
                !text.contains(marker),
                "{relative} contains {marker}: a stub is not done"
            );
        }
        let may_use_sql = relative.starts_with("crates/idbridge-store/")
            || relative.starts_with("crates/idbridge-testkit/");
        if !may_use_sql {
            assert!(
                !text.contains(concat!("sqlx", "::")),
                "{relative} uses sqlx: only the store knows SQL"
            );
        }
    }
}

/// Every page is an askama template: no HTML is assembled in the server's, the
/// application's or the dev IdP's Rust sources (where escaping would be by hand).
#[test]
fn no_html_outside_templates() {
    let root = workspace_root();
    let markup = [
        "<!doctype",
        "<!DOCTYPE html",
        "<html",
        "<body>",
        "<body ",
        "</p>",
        "</a>",
        "</div>",
        "</td>",
        "<br>",
        "<form",
        "<input",
    ];
    for krate in ["idbridge-server", "idbridge-app", "idbridge-dev-idp"] {
        let mut files = Vec::new();
        rust_files(&root.join("crates").join(krate).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for tag in markup {
                assert!(
                    !text.contains(tag),
                    "{} builds HTML ({tag}): pages belong in templates/",
                    file.display()
                );
            }
        }
    }
}

/// Templates escape everything they are given: none marks a value `|safe`, and none
/// has an inline script (the pages' CSP allows script files only).
#[test]
fn templates_mark_nothing_safe() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "html") {
                out.push(path);
            }
        }
    }
    let mut templates = Vec::new();
    for krate in ["idbridge-server", "idbridge-dev-idp"] {
        walk(
            &workspace_root()
                .join("crates")
                .join(krate)
                .join("templates"),
            &mut templates,
        );
    }
    assert!(!templates.is_empty(), "no templates found");
    for template in templates {
        let text: String = std::fs::read_to_string(&template)
            .expect("read")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(
            !text.contains("|safe"),
            "{} marks a value |safe",
            template.display()
        );
        assert!(
            !text.contains("<script>"),
            "{} has an inline script (the CSP allows only script files)",
            template.display()
        );
    }
}

/// The server's and the application's top-level modules import each other in
/// layers: no cycle of `crate::…` paths between them (an edge A → B is any
/// `crate::B` written in A).
#[test]
fn modules_form_no_import_cycle() {
    for krate in ["idbridge-server", "idbridge-app"] {
        no_import_cycle(&workspace_root().join("crates").join(krate).join("src"));
    }
}

fn no_import_cycle(src: &Path) {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    for file in files {
        let relative = file.strip_prefix(src).expect("inside src");
        let first = relative
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if first != "lib" && first != "main" {
            modules.entry(first).or_default().push(file);
        }
    }
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (module, files) in &modules {
        let mut targets = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).expect("read");
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                // `crate::name` or every name of `crate::{a, b::c, …}`.
                let names: Vec<String> = match rest.strip_prefix('{') {
                    Some(group) => group
                        .split('}')
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(|item| {
                            item.trim()
                                .split("::")
                                .next()
                                .unwrap_or_default()
                                .to_owned()
                        })
                        .collect(),
                    None => vec![
                        rest.chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect(),
                    ],
                };
                for name in names {
                    if let Some((target, _)) = modules.get_key_value(&name)
                        && target != module
                        && !targets.contains(&target.as_str())
                    {
                        targets.push(target.as_str());
                    }
                }
            }
        }
        edges.insert(module.as_str(), targets);
    }
    // A module reaches itself again through its imports: a cycle.
    for start in edges.keys() {
        let mut seen: Vec<&str> = Vec::new();
        let mut stack: Vec<Vec<&str>> = vec![vec![start]];
        while let Some(path) = stack.pop() {
            let last = path.last().copied().expect("non-empty");
            for next in edges.get(last).into_iter().flatten() {
                assert!(
                    next != start,
                    "import cycle among the modules of {}: {} -> {start}",
                    src.display(),
                    path.join(" -> ")
                );
                if !seen.contains(next) {
                    seen.push(next);
                    let mut longer = path.clone();
                    longer.push(next);
                    stack.push(longer);
                }
            }
        }
    }
}

/// Input reaches the server's handlers only through its own extractors, which
/// refuse U+0000 (`extract::AdminJson`/`AdminQuery`, `web::Form`/`Query`, the SCIM
/// extractors): axum's `Form` and `Query` are used only inside those. A handler
/// taking axum's directly would let `%00` through to PostgreSQL (a 500) or SQLite
/// (stored).
#[test]
fn handlers_read_forms_and_queries_through_the_nul_refusing_extractors() {
    let root = workspace_root();
    let src = root.join("crates/idbridge-server/src");
    let allowed = [src.join("extract.rs"), src.join("web/input.rs")];
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files.iter().filter(|f| !allowed.contains(f)) {
        let text = std::fs::read_to_string(file).expect("read");
        for direct in ["axum::Form", "extract::Form", "extract::Query"] {
            assert!(!text.contains(direct), "{} uses {direct}", file.display());
        }
        for group in text.split("axum::extract::{").skip(1) {
            let items = group.split('}').next().unwrap_or_default();
            // The name imported, `as` whatever.
            for item in items.split(',').filter_map(|i| i.split_whitespace().next()) {
                assert!(
                    item != "Form" && item != "Query",
                    "{} takes axum's {item}: use crate::web::{item} (pages) or extract::AdminQuery (the admin API)",
                    file.display()
                );
            }
        }
    }
}
