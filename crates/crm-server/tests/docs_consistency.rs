//! The documentation names only things that exist: every `crm …` command
//! (and its `--flags`) written in code in docs/ and README.md is a real
//! subcommand of the binary, every setting (`CRM_*`, `DATABASE_URL`) is read
//! by the binary or by the project's scripts and tests, and every `/api/…`
//! route is in the committed OpenAPI document.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![repo().join("README.md")];
    walk(&repo().join("docs"), &mut out);
    out.sort();
    out
}

/// Text inside code: fenced blocks and `inline spans`.
fn code_spans(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push((i + 1, line.to_owned()));
            continue;
        }
        let parts: Vec<&str> = line.split('`').collect();
        for (k, p) in parts.iter().enumerate() {
            if k % 2 == 1 && k + 1 < parts.len() {
                out.push((i + 1, (*p).to_owned()));
            }
        }
    }
    out
}

/// `crm` invocations in a piece of code: the words after `crm` up to the
/// end of the command (a pipe, `;`, `&&`, a redirect or a comment).
fn invocations(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut start = 0;
    while let Some(pos) = code[start..].find("crm ") {
        let at = start + pos;
        start = at + 4;
        let before = if at == 0 { b' ' } else { bytes[at - 1] };
        if before.is_ascii_alphanumeric() || matches!(before, b'-' | b'_' | b'.') {
            continue;
        }
        let rest = &code[at + 4..];
        let mut words = Vec::new();
        for w in rest.split_whitespace() {
            if matches!(w, "|" | ";" | "&&" | "||" | ">" | "<" | "#" | "\\" | "2>&1")
                || w.starts_with('>')
                || w.starts_with('#')
            {
                break;
            }
            let w = w.trim_end_matches([';', ')', ',', '.']);
            words.push(w.to_owned());
        }
        if !words.is_empty() {
            out.push(words);
        }
    }
    out
}

fn long_flags(cmd: &clap::Command) -> BTreeSet<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .chain(["--help".to_owned(), "--version".to_owned()])
        .collect()
}

/// Checks one invocation; returns what is wrong with it.
fn check_invocation(root: &clap::Command, words: &[String]) -> Option<String> {
    let globals = long_flags(root);
    let mut cmd = root;
    let mut it = words.iter().peekable();
    // Global flags may come before the subcommand.
    while let Some(w) = it.peek().map(|w| w.to_string()) {
        if w.starts_with("--") {
            let flag = w.split('=').next().unwrap_or(&w);
            if !globals.contains(flag) {
                return Some(format!("`crm {}`: unknown option {flag}", words.join(" ")));
            }
            it.next();
            if !w.contains('=') {
                it.next();
            }
        } else {
            break;
        }
    }
    let first = it.next()?;
    if !first.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        // Prose like "crm …" or a placeholder: nothing to check.
        return None;
    }
    match cmd.find_subcommand(first) {
        Some(c) => cmd = c,
        None => {
            return Some(format!(
                "`crm {}`: there is no command `{first}`",
                words.join(" ")
            ));
        }
    }
    while cmd.has_subcommands() {
        let Some(w) = it.peek() else { break };
        if w.starts_with('-') {
            break;
        }
        match cmd.find_subcommand(w.as_str()) {
            Some(c) => {
                cmd = c;
                it.next();
            }
            None => {
                return Some(format!(
                    "`crm {}`: `{}` has no subcommand `{w}`",
                    words.join(" "),
                    cmd.get_name()
                ));
            }
        }
    }
    let known = long_flags(cmd);
    for w in it {
        if let Some(flag) = w
            .strip_prefix("--")
            .map(|f| f.split('=').next().unwrap_or(f))
        {
            let flag = format!("--{}", flag.trim_end_matches(['…', ']', '|']));
            if flag == "--" {
                continue;
            }
            if !known.contains(&flag) && !globals.contains(&flag) {
                return Some(format!(
                    "`crm {}`: `{}` has no option {flag}",
                    words.join(" "),
                    cmd.get_name()
                ));
            }
        }
    }
    None
}

fn env_names(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if let Some(e) = a.get_env() {
            out.insert(e.to_string_lossy().into_owned());
        }
    }
    for s in cmd.get_subcommands() {
        env_names(s, out);
    }
}

/// `CRM_*` and `DATABASE_URL` words in a text.
fn settings_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let is_word = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let prev_ok = i == 0 || !(chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
        if prev_ok && is_word(chars[i]) {
            let mut j = i;
            while j < chars.len() && is_word(chars[j]) {
                j += 1;
            }
            let w: String = chars[i..j].iter().collect();
            let next = chars.get(j).copied().unwrap_or(' ');
            let wildcard = w.ends_with('_') || next == '*' || next == '…';
            if (w.starts_with("CRM_") || w == "DATABASE_URL") && !wildcard {
                out.push(w);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Every source file the settings may be read in (binary, scripts, tests).
fn sources_text() -> String {
    fn walk(dir: &Path, out: &mut String) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                if !matches!(name, "node_modules" | "target" | "dist" | ".git" | "docs") {
                    walk(&p, out);
                }
            } else if ["rs", "sh", "ts", "tsx", "mjs", "toml", "yml", "yaml"]
                .iter()
                .any(|x| name.ends_with(&format!(".{x}")))
                && !name.ends_with("docs_consistency.rs")
            {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut s = String::new();
    for d in ["crates", "scripts", "web/e2e", "web/scripts", ".github"] {
        walk(&repo().join(d), &mut s);
    }
    s
}

/// `/api/...` routes in a text, without query strings: words that start
/// with `/api/` or URLs whose path does (not file paths like `src/api/`).
fn routes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '`' | '(' | ')' | '"' | '\'' | '<' | '>' | '[' | ']' | '|'
            )
    }) {
        let Some(pos) = word.find("/api/") else {
            continue;
        };
        if pos != 0 && !word[..pos].contains("://") && !word[..pos].starts_with('$') {
            continue;
        }
        let tail = &word[pos..];
        let mut depth = 0;
        let end = tail
            .find(|c: char| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                !(c.is_ascii_alphanumeric()
                    || matches!(c, '/' | '{' | '}' | '_' | '-' | '.' | ':' | '*' | '…')
                    || (c == ',' && depth > 0))
            })
            .unwrap_or(tail.len());
        out.push(tail[..end].trim_end_matches(['.', ':', ',']).to_owned());
    }
    out
}

fn is_param(seg: &str) -> bool {
    (seg.starts_with('{') && seg.ends_with('}'))
        || seg.starts_with(':')
        || seg == "…"
        || seg.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !seg.is_empty()
}

fn route_known(route: &str, paths: &[String]) -> bool {
    // Shell-style alternatives: `/api/x/{a,b/*}` names `/api/x/a` and `/api/x/b/*`.
    if let Some(open) = route.find('{')
        && let Some(close) = route[open..].find('}').map(|c| open + c)
        && route[open..close].contains(',')
    {
        let (head, tail) = (&route[..open], &route[close + 1..]);
        return route[open + 1..close]
            .split(',')
            .all(|alt| route_known(&format!("{head}{alt}{tail}"), paths));
    }
    let route = route.trim_end_matches("...").trim_end_matches('/');
    // A prefix (`/api/crm/marketing`) names the routes under it.
    if paths.iter().any(|p| p.starts_with(&format!("{route}/"))) {
        return true;
    }
    if let Some(prefix) = route
        .strip_suffix("/*")
        .or_else(|| route.strip_suffix("*"))
        .or_else(|| route.strip_suffix("/…"))
        .or_else(|| route.strip_suffix("…"))
    {
        return paths.iter().any(|p| p.starts_with(prefix));
    }
    let segs: Vec<&str> = route.split('/').collect();
    paths.iter().any(|p| {
        let ps: Vec<&str> = p.split('/').collect();
        ps.len() == segs.len()
            && ps
                .iter()
                .zip(&segs)
                .all(|(a, b)| a == b || is_param(a) || is_param(b))
    })
}

#[test]
fn docs_name_only_commands_settings_and_routes_that_exist() {
    let root = crm_server::cli::Cli::command();
    let mut env = BTreeSet::new();
    env_names(&root, &mut env);
    let sources = sources_text();
    let openapi: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("openapi.json")).expect("openapi.json"),
    )
    .expect("openapi.json is JSON");
    let mut paths: Vec<String> = openapi["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    // Served outside the OpenAPI document: the document itself and its viewer.
    paths.extend(["/api/openapi.json".to_owned(), "/api/docs".to_owned()]);

    let mut problems = Vec::new();
    let files = markdown_files();
    assert!(files.len() > 5, "docs/ was found");
    for f in &files {
        let md = std::fs::read_to_string(f).expect("readable");
        let name = f.strip_prefix(repo()).unwrap_or(f).display().to_string();
        for (line, code) in code_spans(&md) {
            for inv in invocations(&code) {
                if let Some(p) = check_invocation(&root, &inv) {
                    problems.push(format!("{name}:{line}: {p}"));
                }
            }
        }
        for (i, text) in md.lines().enumerate() {
            for s in settings_in(text) {
                if !env.contains(&s) && !sources.contains(&s) {
                    problems.push(format!(
                        "{name}:{}: setting {s} is not read by the binary or any script",
                        i + 1
                    ));
                }
            }
            for r in routes_in(text) {
                if !route_known(&r, &paths) {
                    problems.push(format!(
                        "{name}:{}: route {r} is not in openapi.json",
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the docs name things that do not exist:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_what_it_should() {
    let root = crm_server::cli::Cli::command();
    let bad = |s: &str| {
        let inv = invocations(s);
        assert_eq!(inv.len(), 1, "{s}");
        check_invocation(&root, &inv[0])
    };
    assert_eq!(bad("crm serve --listen 127.0.0.1:0"), None);
    assert_eq!(bad("crm keys rotate --data-dir x"), None);
    assert_eq!(
        bad("crm demo --port 0 --size small --speed 10 --reset"),
        None
    );
    assert_eq!(bad("crm --log debug serve"), None);
    assert!(bad("crm serv").is_some());
    assert!(bad("crm keys spin").is_some());
    assert!(bad("crm serve --no-such-flag").is_some());
    assert!(invocations("cargo run -p crm-server -- openapi").is_empty());
    assert_eq!(
        settings_in("set `CRM_LISTEN=1` and CRM_META_* or DATABASE_URL"),
        ["CRM_LISTEN", "DATABASE_URL"]
    );
    let paths = vec!["/api/leads/{id}".to_owned(), "/api/leads".to_owned()];
    assert!(route_known("/api/leads/{lead_id}", &paths));
    assert!(route_known("/api/leads/ID", &paths));
    assert!(!route_known("/api/leads/{id}/nope", &paths));
    assert!(route_known("/api/lea*", &paths));
    assert_eq!(routes_in("GET `/api/leads?x=1`."), ["/api/leads"]);
    assert_eq!(routes_in("(`/api/{leads,lea*}`)"), ["/api/{leads,lea*}"]);
    assert!(route_known("/api/{leads,lea*}", &paths));
    assert!(!route_known("/api/{leads,nope}", &paths));
    assert!(route_known("/api/leads/...", &paths));
}
