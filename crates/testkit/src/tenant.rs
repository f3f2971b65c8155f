//! Synthetic tenants for benchmarks: a config repo's files (ladder.yaml, one file per
//! environment, Helm apps promoting `image.tag` along the environments), generated in
//! one place so that every benchmark measures the same kind of tenant.

/// A generated tenant: `ladder.yaml`, `environments/<env>.yaml` (each environment
/// promoted from the one before it) and, per app, `apps/<app>/app.yaml` (a Helm app with
/// `values: [env/{env}.yaml]` and `promote: [image.tag]`) plus one values file per
/// environment ([`app_values`] with [`tag`](Self::tag)).
///
/// A plain struct rather than a builder: each benchmark sets every field in one literal,
/// which shows at a glance what it runs on.
#[derive(Clone, Debug)]
pub struct SyntheticTenant {
    /// `tenant:` in ladder.yaml.
    pub name: String,
    /// `configRepo.url` in ladder.yaml (branch `main`).
    pub config_url: String,
    /// Adds `forge: {type: github}` to ladder.yaml (otherwise the default, plain git).
    pub github: bool,
    /// The environments in promotion order: the first is where changes land, each next
    /// one is promoted from the one before it.
    pub environments: Vec<&'static str>,
    /// The apps' names (folders under `apps/`); [`app_names`] numbers them.
    pub apps: Vec<String>,
    /// The `image.tag` every app starts with in every environment.
    pub tag: String,
}

impl SyntheticTenant {
    /// The tenant's files, `(path, content)`: ladder.yaml, the environments in order,
    /// then per app its app.yaml and its values files in environment order.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut ladder = format!(
            "version: 1\ntenant: {}\nconfigRepo:\n  url: {}\n  branch: main\n",
            self.name, self.config_url
        );
        if self.github {
            ladder.push_str("forge:\n  type: github\n");
        }
        let mut files = vec![("ladder.yaml".to_string(), ladder)];
        let mut previous: Option<&str> = None;
        for env in &self.environments {
            let mut text =
                format!("name: {env}\ncluster: {env}\nnamespace: \"{{app}}\"\nsync: auto\n");
            if let Some(from) = previous {
                text.push_str(&format!("promotion:\n  from: {from}\n"));
            }
            files.push((format!("environments/{env}.yaml"), text));
            previous = Some(env);
        }
        for app in &self.apps {
            files.push((
                format!("apps/{app}/app.yaml"),
                format!(
                    "name: {app}\nsource:\n  type: helm\n  repoURL: https://git.example/charts/{app}.git\n  targetRevision: v1.0.0\n  path: chart\nvalues:\n  - env/{{env}}.yaml\npromote:\n  - image.tag\n"
                ),
            ));
            for env in &self.environments {
                files.push((app_values_path(app, env), app_values(app, &self.tag)));
            }
        }
        files
    }
}

/// `count` app names, `app0000`, `app0001`, ...: zero-padded so that they sort in
/// number order, as ladder lists apps.
pub fn app_names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("app{i:04}")).collect()
}

/// The path of `app`'s values file for `env` in a [`SyntheticTenant`].
pub fn app_values_path(app: &str, env: &str) -> String {
    format!("apps/{app}/env/{env}.yaml")
}

/// The content of one app's values file with `image.tag` = `tag`: what a
/// [`SyntheticTenant`] starts with, and what a benchmark commits to bump a tag (the rest
/// unchanged, so that the only difference is the tag).
pub fn app_values(app: &str, tag: &str) -> String {
    format!("replicas: 2\nimage:\n  repository: ghcr.io/bench/{app}\n  tag: \"{tag}\"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Origin;

    fn tenant(github: bool) -> SyntheticTenant {
        SyntheticTenant {
            name: "acme".into(),
            config_url: "https://github.com/acme/config.git".into(),
            github,
            environments: vec!["dev", "staging", "prod"],
            apps: app_names(2),
            tag: "1.0.0".into(),
        }
    }

    #[test]
    fn files_are_ladder_yaml_environments_then_apps() {
        let files = tenant(false).files();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "ladder.yaml",
                "environments/dev.yaml",
                "environments/staging.yaml",
                "environments/prod.yaml",
                "apps/app0000/app.yaml",
                "apps/app0000/env/dev.yaml",
                "apps/app0000/env/staging.yaml",
                "apps/app0000/env/prod.yaml",
                "apps/app0001/app.yaml",
                "apps/app0001/env/dev.yaml",
                "apps/app0001/env/staging.yaml",
                "apps/app0001/env/prod.yaml",
            ]
        );
        let text = |path: &str| &files.iter().find(|(p, _)| p == path).unwrap().1;
        assert_eq!(
            text("ladder.yaml"),
            "version: 1\ntenant: acme\nconfigRepo:\n  url: https://github.com/acme/config.git\n  branch: main\n"
        );
        assert!(!text("environments/dev.yaml").contains("promotion"));
        assert!(text("environments/staging.yaml").ends_with("promotion:\n  from: dev\n"));
        assert!(text("environments/prod.yaml").ends_with("promotion:\n  from: staging\n"));
        let app = text("apps/app0001/app.yaml");
        assert!(app.starts_with("name: app0001\nsource:\n  type: helm\n"));
        assert!(app.ends_with("values:\n  - env/{env}.yaml\npromote:\n  - image.tag\n"));
        assert_eq!(
            text("apps/app0001/env/prod.yaml"),
            &app_values("app0001", "1.0.0")
        );
        assert!(app_values("web", "v2").ends_with("  tag: \"v2\"\n"));

        let github = tenant(true).files();
        assert_eq!(github.len(), files.len());
        assert!(
            github[0]
                .1
                .ends_with("  branch: main\nforge:\n  type: github\n")
        );
    }

    #[test]
    fn files_commit_on_main() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Origin {
            base: dir.path().to_path_buf(),
            name: "config.git".into(),
        };
        let first = origin.commit_text("tenant", &tenant(false).files());
        let bump = [(
            app_values_path("app0000", "dev"),
            app_values("app0000", "1.1.0"),
        )];
        let second = origin.commit_text("bump", &bump);
        let git = |args: &[&str]| crate::git(&origin.path(), args).trim().to_string();
        assert_eq!(git(&["rev-parse", "main"]), second);
        assert_eq!(git(&["rev-parse", "main^"]), first);
        assert_eq!(
            git(&["ls-tree", "-r", "--name-only", "main"])
                .lines()
                .count(),
            12
        );
        assert_eq!(
            git(&["show", "main:apps/app0000/env/dev.yaml"]),
            app_values("app0000", "1.1.0").trim_end()
        );
    }
}
