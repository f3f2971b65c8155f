//! Sync windows evaluated as Argo CD evaluates them, at fixed instants.

use std::time::SystemTime;

use ladder_promote::windows::{
    BlockKind, Blocked, SyncTrigger, WindowError, WindowTarget, blocking_window,
    blocking_window_for, check_windows,
};
use serde_json::{Value, json};

const WEB: WindowTarget<'static> = WindowTarget {
    application: "web-prod",
    namespace: "acme-web",
    cluster: "acme-eu1",
};

fn at(utc: &str) -> SystemTime {
    SystemTime::from(utc.parse::<jiff::Timestamp>().unwrap())
}

fn block(windows: &[Value], target: &WindowTarget<'_>, now: &str) -> Option<Blocked> {
    blocking_window(windows, target, at(now)).unwrap()
}

fn until(b: &Blocked) -> Option<String> {
    b.until
        .map(|t| jiff::Timestamp::try_from(t).unwrap().to_string())
}

fn london_deny() -> Vec<Value> {
    vec![json!({
        "kind": "deny",
        "schedule": "0 22 * * *",
        "duration": "1h",
        "applications": ["*"],
        "timeZone": "Europe/London",
        "description": "evening freeze",
    })]
}

#[test]
fn london_deny_window_in_winter_and_summer() {
    let w = london_deny();
    // Winter: London is UTC+0, 22:30 London is 22:30 UTC.
    let b = block(&w, &WEB, "2025-01-15T22:30:00Z").expect("active in winter");
    assert_eq!(b.kind, BlockKind::ActiveDeny);
    assert_eq!(until(&b).as_deref(), Some("2025-01-15T23:00:00Z"));
    assert_eq!(b.windows, vec![0]);
    assert!(b.description.contains("0 22 * * *"), "{}", b.description);
    assert!(b.description.contains("Europe/London"), "{}", b.description);
    assert!(
        b.description.contains("evening freeze"),
        "{}",
        b.description
    );
    assert!(b.description.contains("23:00 GMT"), "{}", b.description);
    // Summer: London is UTC+1, 22:30 London is 21:30 UTC.
    let b = block(&w, &WEB, "2025-07-15T21:30:00Z").expect("active in summer");
    assert_eq!(b.kind, BlockKind::ActiveDeny);
    assert_eq!(until(&b).as_deref(), Some("2025-07-15T22:00:00Z"));
    assert!(b.description.contains("23:00 BST"), "{}", b.description);
    // 23:30 London, winter and summer.
    assert_eq!(block(&w, &WEB, "2025-01-15T23:30:00Z"), None);
    assert_eq!(block(&w, &WEB, "2025-07-15T22:30:00Z"), None);
    // 21:30 London in winter: not yet.
    assert_eq!(block(&w, &WEB, "2025-01-15T21:30:00Z"), None);
}

#[test]
fn window_edges_are_open_as_in_argo_cd() {
    // Argo CD: active when schedule.Next(now - duration) is before now, with Next
    // strictly after its argument: not at the start instant, not at the end instant.
    let w = london_deny();
    assert_eq!(block(&w, &WEB, "2025-01-15T22:00:00Z"), None);
    assert!(block(&w, &WEB, "2025-01-15T22:00:00.001Z").is_some());
    assert!(block(&w, &WEB, "2025-01-15T22:59:59.999Z").is_some());
    assert_eq!(block(&w, &WEB, "2025-01-15T23:00:00Z"), None);
}

#[test]
fn window_crossing_midnight() {
    let w = vec![json!({
        "kind": "deny", "schedule": "30 23 * * *", "duration": "2h",
        "namespaces": ["acme-*"], "timeZone": "America/New_York",
    })];
    // 23:30 New York (UTC-5 in January) is 04:30 UTC the next day; ends 01:30 local.
    let b = block(&w, &WEB, "2025-01-16T06:15:00Z").expect("00:15 New York");
    assert_eq!(until(&b).as_deref(), Some("2025-01-16T06:30:00Z"));
    let b = block(&w, &WEB, "2025-01-16T04:45:00Z").expect("23:45 New York");
    assert_eq!(until(&b).as_deref(), Some("2025-01-16T06:30:00Z"));
    assert_eq!(block(&w, &WEB, "2025-01-16T06:30:00Z"), None);
    assert_eq!(block(&w, &WEB, "2025-01-16T04:29:00Z"), None);
    // Month and year boundaries.
    let b = block(&w, &WEB, "2026-01-01T05:00:00Z").expect("00:00 on New Year's Day");
    assert_eq!(until(&b).as_deref(), Some("2026-01-01T06:30:00Z"));
}

#[test]
fn selectors_match_as_argo_cd() {
    let deny = |selectors: Value| {
        let mut w = json!({"kind": "deny", "schedule": "0 0 * * *", "duration": "24h"});
        w.as_object_mut()
            .unwrap()
            .extend(selectors.as_object().unwrap().clone());
        vec![w]
    };
    let now = "2025-01-15T12:00:00Z";
    let api = WindowTarget {
        application: "api-prod",
        namespace: "acme-api",
        cluster: "acme-us1",
    };
    let blocks = |w: &[Value], t: &WindowTarget<'_>| block(w, t, now).is_some();

    let apps = deny(json!({"applications": ["web-*"]}));
    assert!(blocks(&apps, &WEB));
    assert!(!blocks(&apps, &api));

    let namespaces = deny(json!({"namespaces": ["acme-web", "other"]}));
    assert!(blocks(&namespaces, &WEB));
    assert!(!blocks(&namespaces, &api));

    let clusters = deny(json!({"clusters": ["acme-eu?"]}));
    assert!(blocks(&clusters, &WEB));
    assert!(!blocks(&clusters, &api));

    let alternatives = deny(json!({"applications": ["{web,db}-prod"]}));
    assert!(blocks(&alternatives, &WEB));
    assert!(!blocks(&alternatives, &api));

    // Lists are ORed: any one of them matching applies the window.
    let either = deny(json!({"applications": ["nothing"], "clusters": ["acme-us1"]}));
    assert!(!blocks(&either, &WEB));
    assert!(blocks(&either, &api));

    // andOperator: every list that is set must match.
    let both = deny(json!({
        "applications": ["web-*"], "clusters": ["acme-us1"], "andOperator": true,
    }));
    assert!(!blocks(&both, &WEB));
    assert!(!blocks(&both, &api));
    let both = deny(json!({
        "applications": ["*-prod"], "namespaces": ["acme-web"], "andOperator": true,
    }));
    assert!(blocks(&both, &WEB));
    assert!(!blocks(&both, &api));

    // No selector matches nothing.
    assert!(!blocks(&deny(json!({})), &WEB));
    // Matching is whole-string and case-sensitive.
    assert!(!blocks(&deny(json!({"applications": ["web"]})), &WEB));
    assert!(!blocks(&deny(json!({"applications": ["WEB-*"]})), &WEB));
}

fn office_hours() -> Value {
    json!({
        "kind": "allow", "schedule": "0 9 * * 1-5", "duration": "8h",
        "applications": ["*"], "timeZone": "Europe/Berlin",
    })
}

#[test]
fn allow_windows_block_outside_them() {
    let w = vec![office_hours()];
    // Wednesday 08:00 Berlin (UTC+1): closed until 09:00 Berlin.
    let b = block(&w, &WEB, "2025-01-15T07:00:00Z").expect("before office hours");
    assert_eq!(b.kind, BlockKind::NoActiveAllow);
    assert_eq!(until(&b).as_deref(), Some("2025-01-15T08:00:00Z"));
    assert!(b.description.contains("0 9 * * 1-5"), "{}", b.description);
    assert_eq!(b.windows, vec![0]);
    // Wednesday 12:00 Berlin: open.
    assert_eq!(block(&w, &WEB, "2025-01-15T11:00:00Z"), None);
    // Friday 17:30 Berlin: closed over the weekend, until Monday 09:00.
    let b = block(&w, &WEB, "2025-01-17T16:30:00Z").expect("Friday evening");
    assert_eq!(until(&b).as_deref(), Some("2025-01-20T08:00:00Z"));
    // Summer time: 09:00 Berlin is 07:00 UTC.
    let b = block(&w, &WEB, "2025-07-16T06:30:00Z").expect("08:30 Berlin in July");
    assert_eq!(until(&b).as_deref(), Some("2025-07-16T07:00:00Z"));
    // An allow window for another app does not block this one.
    let other = vec![json!({
        "kind": "allow", "schedule": "0 9 * * 1-5", "duration": "8h", "applications": ["api-*"],
    })];
    assert_eq!(block(&other, &WEB, "2025-01-15T07:00:00Z"), None);
    // One active allow window is enough.
    let two = vec![
        office_hours(),
        json!({"kind": "allow", "schedule": "0 6 * * *", "duration": "2h", "clusters": ["acme-*"]}),
    ];
    assert_eq!(block(&two, &WEB, "2025-01-15T07:00:00Z"), None);
    // With both inactive, the earlier opening one gives `until`.
    let b = block(&two, &WEB, "2025-01-15T05:00:00Z").expect("05:00 UTC");
    assert_eq!(until(&b).as_deref(), Some("2025-01-15T06:00:00Z"));
    assert_eq!(b.windows, vec![0, 1]);
}

#[test]
fn deny_wins_over_allow() {
    let mut w = london_deny();
    w.push(
        json!({"kind": "allow", "schedule": "0 0 * * *", "duration": "24h", "applications": ["*"]}),
    );
    let b = block(&w, &WEB, "2025-01-15T22:30:00Z").expect("deny active inside allow");
    assert_eq!(b.kind, BlockKind::ActiveDeny);
    assert_eq!(b.windows, vec![0]);
    assert_eq!(until(&b).as_deref(), Some("2025-01-15T23:00:00Z"));
    assert_eq!(block(&w, &WEB, "2025-01-15T21:30:00Z"), None);
}

#[test]
fn until_covers_the_whole_blocked_stretch() {
    // After the evening deny ends, no allow window is open until the next morning.
    let mut w = london_deny();
    w.push(json!({
        "kind": "allow", "schedule": "0 9 * * *", "duration": "8h",
        "applications": ["*"], "timeZone": "Europe/London",
    }));
    let b = block(&w, &WEB, "2025-01-15T22:30:00Z").unwrap();
    assert_eq!(b.kind, BlockKind::ActiveDeny);
    assert_eq!(until(&b).as_deref(), Some("2025-01-16T09:00:00Z"));

    // Adjacent deny windows hand over; overlapping ones end with the last.
    let chained = vec![
        json!({"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]}),
        json!({"kind": "deny", "schedule": "0 23 * * *", "duration": "1h", "applications": ["*"]}),
        json!({"kind": "deny", "schedule": "30 22 * * *", "duration": "1h", "applications": ["*"]}),
    ];
    let b = block(&chained, &WEB, "2025-01-15T22:45:00Z").unwrap();
    assert_eq!(b.windows, vec![0, 2]);
    assert_eq!(until(&b).as_deref(), Some("2025-01-16T00:00:00Z"));

    // A window that fires again before it ends stays active.
    let refiring = vec![json!({
        "kind": "deny", "schedule": "0 * * * *", "duration": "90m", "applications": ["*"],
        "timeZone": "Europe/London",
    })];
    let b = block(&refiring, &WEB, "2025-01-15T10:10:00Z").unwrap();
    // Fires every hour for 90 minutes: never ends.
    assert_eq!(b.until, None);
    let business = vec![json!({
        "kind": "deny", "schedule": "*/30 9-16 * * *", "duration": "45m", "applications": ["*"],
    })];
    let b = block(&business, &WEB, "2025-01-15T10:10:00Z").unwrap();
    assert_eq!(until(&b).as_deref(), Some("2025-01-15T17:15:00Z"));
}

#[test]
fn manual_sync_lets_people_through() {
    let mut w = london_deny();
    w[0]["manualSync"] = json!(true);
    let now = at("2025-01-15T22:30:00Z");
    assert!(blocking_window(&w, &WEB, now).unwrap().is_some());
    assert!(
        blocking_window_for(&w, &WEB, now, SyncTrigger::Automated)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        blocking_window_for(&w, &WEB, now, SyncTrigger::Manual).unwrap(),
        None
    );
    // Every active deny window must allow it.
    w.extend(london_deny());
    assert!(
        blocking_window_for(&w, &WEB, now, SyncTrigger::Manual)
            .unwrap()
            .is_some()
    );
    // Inactive allow windows: all must allow manual syncs.
    let mut allow = office_hours();
    allow["manualSync"] = json!(true);
    let early = at("2025-01-15T07:00:00Z");
    assert_eq!(
        blocking_window_for(&[allow.clone()], &WEB, early, SyncTrigger::Manual).unwrap(),
        None
    );
    assert!(
        blocking_window_for(&[allow, office_hours()], &WEB, early, SyncTrigger::Manual)
            .unwrap()
            .is_some()
    );
}

#[test]
fn dst_changes_follow_the_wall_clock() {
    // Argo CD runs the cron on the local wall clock (UTC plus the zone's offset now),
    // so a window spanning a clock change lasts its duration of wall-clock time.
    // London springs forward on 2025-03-30 at 01:00 UTC (01:00 GMT -> 02:00 BST).
    let w = vec![json!({
        "kind": "deny", "schedule": "30 0 * * *", "duration": "2h",
        "applications": ["*"], "timeZone": "Europe/London",
    })];
    let b = block(&w, &WEB, "2025-03-30T00:45:00Z").expect("00:45 GMT");
    assert_eq!(until(&b).as_deref(), Some("2025-03-30T01:30:00Z")); // 02:30 BST
    assert!(block(&w, &WEB, "2025-03-30T01:15:00Z").is_some()); // 02:15 BST
    assert_eq!(block(&w, &WEB, "2025-03-30T01:30:00Z"), None);

    // A window ending inside the skipped hour ends when the clocks jump.
    let w = vec![json!({
        "kind": "deny", "schedule": "0 0 * * *", "duration": "90m",
        "applications": ["*"], "timeZone": "Europe/London",
    })];
    let b = block(&w, &WEB, "2025-03-30T00:45:00Z").unwrap();
    assert_eq!(until(&b).as_deref(), Some("2025-03-30T01:00:00Z"));
    assert_eq!(block(&w, &WEB, "2025-03-30T01:00:00Z"), None);

    // Falling back (2025-10-26 at 01:00 UTC, 02:00 BST -> 01:00 GMT) repeats 01:00-02:00,
    // and Argo CD's window with it.
    let w = vec![json!({
        "kind": "deny", "schedule": "0 1 * * *", "duration": "30m",
        "applications": ["*"], "timeZone": "Europe/London",
    })];
    let b = block(&w, &WEB, "2025-10-26T00:10:00Z").expect("01:10 BST");
    assert_eq!(until(&b).as_deref(), Some("2025-10-26T00:30:00Z"));
    assert_eq!(block(&w, &WEB, "2025-10-26T00:45:00Z"), None); // 01:45 BST
    let b = block(&w, &WEB, "2025-10-26T01:10:00Z").expect("01:10 GMT, again");
    assert_eq!(until(&b).as_deref(), Some("2025-10-26T01:30:00Z"));
}

#[test]
fn a_schedule_that_never_fires_is_always_active() {
    // robfig/cron returns the zero time when nothing fires within five years, and Argo
    // CD reads that as a window that started long ago and is still open.
    let w = vec![json!({
        "kind": "deny", "schedule": "0 0 30 2 *", "duration": "1h", "applications": ["*"],
    })];
    let b = block(&w, &WEB, "2025-06-01T12:00:00Z").expect("always active");
    assert_eq!(b.until, None);
    assert!(
        b.description.contains("no end in sight"),
        "{}",
        b.description
    );
}

#[test]
fn no_windows_no_block() {
    assert_eq!(block(&[], &WEB, "2025-01-15T22:30:00Z"), None);
    let elsewhere = vec![json!({
        "kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["api-*"],
    })];
    assert_eq!(block(&elsewhere, &WEB, "2025-01-15T22:30:00Z"), None);
}

#[test]
fn invalid_windows_are_errors_not_panics() {
    let now = at("2025-01-15T22:30:00Z");
    let err = |w: Value| blocking_window(&[w], &WEB, now).unwrap_err();
    let base = || json!({"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]});
    let with = |key: &str, value: Value| {
        let mut w = base();
        w[key] = value;
        w
    };

    for schedule in [
        "0 25 * * *",
        "0 22 * *",
        "@daily",
        "",
        "0 22 * * 7",
        "*/0 * * * *",
    ] {
        assert!(
            matches!(
                err(with("schedule", json!(schedule))),
                WindowError::Schedule { index: 0, .. }
            ),
            "{schedule:?}"
        );
    }
    let e = err(with("timeZone", json!("Mars/Olympus_Mons")));
    assert!(matches!(e, WindowError::TimeZone { index: 0, .. }), "{e:?}");
    assert!(e.to_string().contains("Mars/Olympus_Mons"), "{e}");
    for duration in ["1d", "", "-1h", "h"] {
        assert!(
            matches!(
                err(with("duration", json!(duration))),
                WindowError::Duration { .. }
            ),
            "{duration:?}"
        );
    }
    assert!(matches!(
        err(with("kind", json!("block"))),
        WindowError::Kind { .. }
    ));
    assert!(matches!(
        err(with("applications", json!("web-*"))),
        WindowError::Field {
            field: "applications",
            ..
        }
    ));
    assert!(matches!(
        err(with("manualSync", json!("yes"))),
        WindowError::Field {
            field: "manualSync",
            ..
        }
    ));
    assert!(matches!(
        err(json!("deny")),
        WindowError::NotAMapping { index: 0 }
    ));
    // A broken window is an error even where it would not match, and says which one.
    let broken = vec![
        base(),
        json!({"kind": "deny", "schedule": "nope", "duration": "1h", "applications": ["api-*"]}),
    ];
    assert!(matches!(
        blocking_window(&broken, &WEB, now),
        Err(WindowError::Schedule { index: 1, .. })
    ));
    assert!(check_windows(&broken).is_err());
    assert!(check_windows(&london_deny()).is_ok());
    // Extreme instants do not panic.
    assert!(blocking_window(&london_deny(), &WEB, SystemTime::UNIX_EPOCH).is_ok());
}

#[test]
fn time_zone_defaults_to_utc() {
    let mut w = london_deny();
    w[0].as_object_mut().unwrap().remove("timeZone");
    // In summer, 22:30 UTC is inside a UTC window but outside the London one.
    assert!(block(&w, &WEB, "2025-07-15T22:30:00Z").is_some());
    w[0]["timeZone"] = json!("");
    assert!(block(&w, &WEB, "2025-07-15T22:30:00Z").is_some());
    assert!(block(&london_deny(), &WEB, "2025-07-15T22:30:00Z").is_none());
}
