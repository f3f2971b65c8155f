//! Routing a delivery to a tenant: one repository, many spellings.

use ladder_watch::same_repo;

#[test]
fn spellings_of_one_repository_match() {
    let configured = "https://github.com/acme/platform-config.git";
    for url in [
        "https://github.com/acme/platform-config.git",
        "https://github.com/acme/platform-config",
        "https://github.com/acme/platform-config/",
        "https://GitHub.COM/acme/platform-config",
        "http://github.com/acme/platform-config",
        "git@github.com:acme/platform-config.git",
        "git@GITHUB.com:acme/platform-config",
        "ssh://git@github.com/acme/platform-config.git",
        "ssh://git@github.com:22/acme/platform-config",
        "git://github.com/acme/platform-config.git",
        "https://user:token@github.com/acme/platform-config.git",
        "https://github.com/Acme/Platform-Config",
    ] {
        assert!(same_repo(configured, url), "{url}");
        assert!(same_repo(url, configured), "{url} (reversed)");
    }
}

#[test]
fn scp_like_config_matches_https_payload() {
    assert!(same_repo(
        "git@gitlab.example.com:group/sub/project.git",
        "https://gitlab.example.com/group/sub/project"
    ));
    assert!(same_repo(
        "http://localhost:3000/gitea/webhooks.git",
        "ssh://gitea@localhost:2222/gitea/webhooks.git"
    ));
}

#[test]
fn other_repositories_do_not_match() {
    let configured = "https://github.com/acme/platform-config.git";
    for url in [
        "https://github.com/evil/platform-config.git",
        "https://github.com/acme/platform-config-fork",
        "https://github.com/acme/platform",
        "https://gitlab.com/acme/platform-config.git",
        "https://github.com/acme/platform-config/extra",
        "https://github.com/group/acme/platform-config",
        "https://github.com/",
        "github.com",
        "",
    ] {
        assert!(!same_repo(configured, url), "{url}");
    }
    assert!(!same_repo("", ""));
}
