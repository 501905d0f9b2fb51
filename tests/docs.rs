//! The docs against the code they describe: the tools table (docs/mcp.md) against the
//! catalog, the scopes' plain words (docs/oauth.md) against what the consent page says,
//! and every page under docs/ reachable from the README.

use alta_shared::mcp::tools::CATALOG;
use alta_shared::scope::Scope;

fn doc(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the table whose header row starts with `| first |`: their cells, trimmed.
fn table(text: &str, first: &str) -> Vec<Vec<String>> {
    let header = format!("| {first} |");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&header)).skip(2);
    let mut rows = Vec::new();
    for line in lines.by_ref() {
        if !line.starts_with('|') {
            break;
        }
        rows.push(
            line.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect(),
        );
    }
    rows
}

#[test]
fn the_tools_table_is_the_catalog() {
    let rows = table(&doc("docs/mcp.md"), "tool");
    let documented: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let catalog: Vec<(String, String, String)> = CATALOG
        .iter()
        .map(|t| {
            (
                format!("`{}`", t.name),
                t.scope
                    .map_or_else(|| "any".to_owned(), |s| format!("`{}`", s.as_str())),
                t.permission
                    .map_or_else(|| "—".to_owned(), |p| p.as_str().to_owned()),
            )
        })
        .collect();
    assert_eq!(documented, catalog);
}

#[test]
fn the_oauth_doc_says_what_the_consent_page_says_for_each_scope() {
    let oauth = doc("docs/oauth.md");
    for scope in Scope::ALL {
        assert!(
            oauth.contains(scope.description()),
            "docs/oauth.md does not show `{}` as the consent page does: {:?}",
            scope.as_str(),
            scope.description()
        );
    }
}

#[test]
fn every_page_under_docs_is_linked_from_the_readme() {
    let readme = doc("README.md");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            assert!(
                readme.contains(&format!("docs/{name}")),
                "README.md does not link docs/{name}"
            );
        }
    }
    assert!(!readme.contains("DESIGN.md"));
}
