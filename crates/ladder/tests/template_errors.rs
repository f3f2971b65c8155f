//! A broken tenant template is reported once, at its `file:line:col`, however many
//! documents it would have rendered; the run exits 1 and writes nothing.

mod common;

use common::*;

/// The built-in template with one line replaced, as a tenant would override it.
fn application_template_with(from: &str, to: &str) -> String {
    let template =
        std::fs::read_to_string(workspace_root().join("templates/application.yaml.hbs")).unwrap();
    assert!(template.contains(from), "the template has no {from:?}");
    template.replacen(from, to, 1)
}

/// The 1-based line of the built-in application template that holds `text`.
fn line_of(text: &str) -> usize {
    let template =
        std::fs::read_to_string(workspace_root().join("templates/application.yaml.hbs")).unwrap();
    template
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("the template has no {text:?}"))
        + 1
}

/// Renders a copy of the example whose template `path` is `text`, over a good output, and
/// checks that `expected` is reported exactly once by `render` (stderr) and `validate`
/// (stdout), with exit 1 and nothing written. Returns render's stderr.
fn reported_once(path: &str, text: &str, expected: &str) -> String {
    let repo = TempRepo::example();
    let good = repo.render();
    assert!(good.status.success(), "{}", stderr(&good));
    let before = read_tree(&repo.out());

    repo.write(path, text);
    let run = repo.render();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches(expected).count(),
        1,
        "expected `{expected}` exactly once in:\n{err}"
    );
    // Every line that names the template is that one problem.
    let template_lines = err.lines().filter(|l| l.starts_with(path)).count();
    assert_eq!(template_lines, 1, "one template problem, once:\n{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        read_tree(&repo.out()),
        before,
        "the previous output changed"
    );

    // Nothing is created where there was no output.
    let fresh = repo.dir.path().join("fresh");
    let run = render(&repo.repo(), &fresh, &[]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(!fresh.exists(), "a failed render created --out");

    let validate = ladder(&["validate", "--repo", repo.repo().to_str().unwrap()]);
    let out = stdout(&validate);
    assert_eq!(
        validate.status.code(),
        Some(1),
        "{out}{}",
        stderr(&validate)
    );
    assert_eq!(
        out.matches(expected).count(),
        1,
        "validate: expected `{expected}` exactly once in:\n{out}"
    );
    err
}

#[test]
fn a_missing_helper_is_reported_once() {
    reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("name: {{yaml name}}", "name: {{toYaml name}}"),
        &format!(
            "templates/application.yaml.hbs:{}:9: template: unknown helper `toYaml`",
            line_of("name: {{yaml name}}")
        ),
    );
    // A typo gets a suggestion; inside a block, the position is still its own.
    let err = reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("  source: {{yaml source}}", "  source: {{yam source}}"),
        &format!(
            "templates/application.yaml.hbs:{}:11: template: unknown helper `yam`; did you mean `yaml`?",
            line_of("  source: {{yaml source}}")
        ),
    );
    assert!(!err.contains("Application"), "no document is named:\n{err}");
}

#[test]
fn a_missing_helper_in_the_appproject_template_is_reported_once() {
    let template =
        std::fs::read_to_string(workspace_root().join("templates/appproject.yaml.hbs")).unwrap();
    reported_once(
        "templates/appproject.yaml.hbs",
        &template.replacen(
            "description: {{yaml description}}",
            "description: {{quote description}}",
            1,
        ),
        "template: unknown helper `quote`",
    );
}

#[test]
fn a_missing_partial_is_reported_once() {
    reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("  labels: {{yaml labels}}\n", "{{> labels}}\n"),
        &format!(
            "templates/application.yaml.hbs:{}:1: template: unknown partial `labels`",
            line_of("  labels: {{yaml labels}}")
        ),
    );
}

#[test]
fn a_syntax_error_is_reported_once() {
    reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("name: {{yaml name}}", "name: {{yaml name}"),
        &format!(
            "templates/application.yaml.hbs:{}:",
            line_of("name: {{yaml name}}")
        ),
    );
    reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("{{/if}}", ""),
        "templates/application.yaml.hbs:",
    );
}

/// A value missing from the context fails each document's render; the renderer reports
/// it once with the number of documents. Needs `render()` in crates/render/src/lib.rs to
/// pass its problems through `Templates::collapse`.
#[test]
fn a_missing_value_is_reported_once_with_the_documents_it_broke() {
    let err = reported_once(
        "templates/application.yaml.hbs",
        &application_template_with("name: {{yaml name}}", "name: {{yaml nme}}"),
        &format!(
            "templates/application.yaml.hbs:{}:9: cannot render: `nme` is not in the template's context; did you mean `name`? (in 8 documents: Application docs-dev (app docs, environment dev) and 7 more)",
            line_of("name: {{yaml name}}")
        ),
    );
    assert!(!err.contains("Some("), "no Rust internals:\n{err}");
}
