//! The layering ARCHITECTURE.md promises, checked on the source: `http` imports nothing from
//! `store`. The front doors read the use cases' models (`domain::records`, `service`), so a change
//! of schema stops at the store.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, depth first.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
    found
}

/// The lines of `text` that reach the store: a path through `store::` (whatever comes before
/// it: `crate::`, `super::`, a `use` group) or the service's handle on it, `.store()`. Comments
/// are skipped.
fn store_references(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| line.contains("store::") || line.contains(".store()"))
        .map(|(i, line)| (i + 1, line.trim().to_owned()))
        .collect()
}

#[test]
fn http_imports_nothing_from_store() {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let files = rust_files(&http);
    assert!(
        files.len() > 20,
        "expected the http module's files under {}, found {}",
        http.display(),
        files.len()
    );
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        for (line, code) in store_references(&text) {
            offences.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "http must not reach the store (ARCHITECTURE.md); use domain::records or service:\n{}",
        offences.join("\n")
    );
}

/// The check itself finds the shapes an import of the store takes, and passes what is not one.
#[test]
fn the_store_check_finds_imports_of_the_store() {
    let caught = [
        "use crate::store::loops::LoopRecord;",
        "use crate::{domain::Email, store::MemberRecord};",
        "    fn f(r: crate::store::InvitationRecord) {}",
        "    let ok = state.service.store().ping().await;",
    ];
    for line in caught {
        assert_eq!(store_references(line).len(), 1, "not caught: {line}");
    }
    let passed = [
        "use crate::domain::records::loops::LoopRecord;",
        "// store::loops once held these types",
        "headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(\"no-store\"));",
    ];
    for line in passed {
        assert!(store_references(line).is_empty(), "wrongly caught: {line}");
    }
}

/// The lines of `text` that dispatch forms by a name in the path or read a form into a map of
/// fields: a `{action}` route, a `match` on an action's name, a `CsrfForm` of a map. Each
/// action has its own route and a typed form instead (ARCHITECTURE.md, `src/http/web/`), so
/// the router lists every action and a form's fields are checked when it is read.
fn dispatcher_references(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            squeezed.contains("{action}")
                || squeezed.contains("matchaction")
                || squeezed.contains("CsrfForm<HashMap")
                || squeezed.contains("CsrfForm<Fields>")
                || squeezed.contains("CsrfForm<BTreeMap")
        })
        .map(|(i, line)| (i + 1, line.trim().to_owned()))
        .collect()
}

#[test]
fn no_route_dispatches_actions_by_name() {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut offences = Vec::new();
    for file in rust_files(&http) {
        let text = std::fs::read_to_string(&file).expect("read source");
        for (line, code) in dispatcher_references(&text) {
            offences.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "one route per action with a typed form (ARCHITECTURE.md), not a dispatcher:\n{}",
        offences.join("\n")
    );
}

/// The check itself finds the shapes a dispatcher takes, and passes typed routes.
#[test]
fn the_dispatcher_check_finds_dispatchers() {
    let caught = [
        r#"        .route("/teams/{slug}/loops/{id}/{action}", post(loops::act))"#,
        r#"            "/teams/{slug}/things/{ action }","#,
        "    let result = match action.as_str() {",
        "    CsrfForm(fields): CsrfForm<HashMap<String, String>>,",
        "    CsrfForm(fields): CsrfForm<Fields>,",
    ];
    for line in caught {
        assert_eq!(dispatcher_references(line).len(), 1, "not caught: {line}");
    }
    let passed = [
        r#"        .route("/teams/{slug}/loops/{id}/advance", post(loops::advance))"#,
        "    CsrfForm(form): CsrfForm<FactorForm>,",
        "// once a {action} dispatcher",
    ];
    for line in passed {
        assert!(
            dispatcher_references(line).is_empty(),
            "wrongly caught: {line}"
        );
    }
}
