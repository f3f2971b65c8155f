//! Argo CD sync windows: whether an environment's `syncWindows` block syncing (and so
//! promoting) an Application at a given instant, evaluated exactly as Argo CD evaluates
//! them, so ladder never proposes into a window Argo CD would refuse to sync.
//!
//! # API
//!
//! ```text
//! pub struct WindowTarget<'a> { pub application: &'a str, pub namespace: &'a str, pub cluster: &'a str }
//! pub fn blocking_window(windows: &[serde_json::Value], target: &WindowTarget<'_>, now: SystemTime)
//!     -> Result<Option<Blocked>, WindowError>
//! pub fn blocking_window_for(windows, target, now, trigger: SyncTrigger)
//!     -> Result<Option<Blocked>, WindowError>
//! pub fn check_windows(windows: &[serde_json::Value]) -> Result<(), WindowError>
//! pub struct Blocked { pub kind: BlockKind, pub until: Option<SystemTime>, pub description: String, pub windows: Vec<usize> }
//! pub enum BlockKind { ActiveDeny, NoActiveAllow }
//! pub enum SyncTrigger { Automated, Manual }
//! ```
//!
//! `windows` are an environment's `sync_windows`, verbatim (the keys of an AppProject's
//! `spec.syncWindows[]`). `application` is the Argo CD Application name (`<app>-<env>`),
//! `namespace` its destination namespace and `cluster` its destination name
//! (`<tenant>-<cluster>`). `blocking_window` answers for an automated sync (what happens
//! after a promotion merges) and ignores `manualSync`; `blocking_window_for` with
//! [`SyncTrigger::Manual`] honours it as Argo CD does for a person's sync.
//!
//! [`Blocked::until`] is when syncing becomes possible again: the end of the active deny
//! windows (their last start plus duration, following windows that chain or overlap) or
//! the start of the next allow window, repeated while another window takes over, so it
//! is the end of the whole blocked stretch. Argo CD opens a window just after its start
//! instant, so `until` is the last blocked instant's bound. `None` when the block never
//! ends (a schedule that never fires counts as always active in Argo CD) or does not end
//! within a bounded search.
//!
//! # Argo CD's rules (argo-cd `pkg/apis/application/v1alpha1`, `SyncWindows`)
//!
//! - `Matches`: a window applies when one of its `applications` globs matches the
//!   Application name, or a `clusters` glob the destination name (or server), or a
//!   `namespaces` glob the destination namespace. With `andOperator: true`, every list
//!   that is set must match. Globs are gobwas/glob without separators (`*`, `?`,
//!   `[a-z]`, `[!abc]`, `{a,b}`, `\` escapes); a pattern that does not compile matches
//!   nothing.
//! - `Active`: with `off` the window time zone's UTC offset at the evaluation instant and
//!   `local = now + off` read as a UTC wall clock, the window is active when
//!   `schedule.Next(local - duration)` (robfig/cron v3, 5 fields, in UTC) is before
//!   `local`. Cron runs on that wall clock, so a window keeps its local hours across
//!   DST, and one spanning a DST change lasts `duration` of wall-clock time. A schedule
//!   that never fires (robfig gives up after five years and returns the zero time) is
//!   always active.
//! - `CanSync`: an active matching deny window blocks (a manual sync passes when every
//!   active deny window has `manualSync`); otherwise an active allow window lets it
//!   through; otherwise, if there are allow windows (all inactive), they block (a manual
//!   sync passes when all have `manualSync`); with no windows, syncing is allowed.
//!
//! Where ladder is stricter: Argo CD treats an unknown `timeZone` as UTC (with a
//! warning) and only evaluates windows that match; here any window that does not parse
//! (kind, schedule, duration, time zone, field types) is a [`WindowError`], whichever
//! Application it would match. `TZ=`/`CRON_TZ=` schedule prefixes and `@` descriptors
//! are refused, as the model and Argo CD's parser options refuse them.

use std::fmt::Write as _;
use std::time::SystemTime;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The Application a window is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowTarget<'a> {
    /// The Argo CD Application name, `<app>-<env>`.
    pub application: &'a str,
    /// The destination namespace.
    pub namespace: &'a str,
    /// The destination (cluster) name, `<tenant>-<cluster>`.
    pub cluster: &'a str,
}

/// Who starts the sync: Argo CD's `isManual`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncTrigger {
    /// Automated sync (after a promotion merges): `manualSync` does not apply.
    #[default]
    Automated,
    /// A person's sync: windows with `manualSync: true` let it through.
    Manual,
}

/// Why syncing is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A matching `deny` window is active.
    ActiveDeny,
    /// Matching `allow` windows exist and none is active.
    NoActiveAllow,
}

/// Syncing is blocked at the evaluated instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub kind: BlockKind,
    /// When syncing becomes possible again (the whole blocked stretch, see the module
    /// docs), or `None` when that is not known.
    pub until: Option<SystemTime>,
    /// For people: which windows, their schedule, duration and time zone, and until when.
    pub description: String,
    /// Indexes into the given windows: the active deny windows, or the inactive allow
    /// windows.
    pub windows: Vec<usize>,
}

/// A sync window ladder cannot evaluate; `index` is its position in the list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("syncWindows[{index}] is not a mapping")]
    NotAMapping { index: usize },
    #[error("syncWindows[{index}]: `{field}` {reason}")]
    Field {
        index: usize,
        field: &'static str,
        reason: String,
    },
    #[error("syncWindows[{index}]: `kind` must be allow or deny, found `{found}`")]
    Kind { index: usize, found: String },
    #[error(
        "syncWindows[{index}]: schedule `{schedule}` is not a 5-field cron expression: {reason}"
    )]
    Schedule {
        index: usize,
        schedule: String,
        reason: String,
    },
    #[error("syncWindows[{index}]: duration `{duration}` is not a Go duration: {reason}")]
    Duration {
        index: usize,
        duration: String,
        reason: String,
    },
    #[error("syncWindows[{index}]: timeZone `{time_zone}` is not a known IANA time zone: {reason}")]
    TimeZone {
        index: usize,
        time_zone: String,
        reason: String,
    },
}

/// Whether an automated sync of `target` is blocked at `now`, and why.
pub fn blocking_window(
    windows: &[Value],
    target: &WindowTarget<'_>,
    now: SystemTime,
) -> Result<Option<Blocked>, WindowError> {
    blocking_window_for(windows, target, now, SyncTrigger::Automated)
}

/// Whether a sync of `target` started by `trigger` is blocked at `now`, and why.
pub fn blocking_window_for(
    windows: &[Value],
    target: &WindowTarget<'_>,
    now: SystemTime,
    trigger: SyncTrigger,
) -> Result<Option<Blocked>, WindowError> {
    let parsed = parse_all(windows)?;
    let matching: Vec<&Window> = parsed.iter().filter(|w| w.matches(target)).collect();
    if matching.is_empty() {
        return Ok(None);
    }
    let now = to_timestamp(now);
    let Some(reason) = evaluate(&matching, now, trigger) else {
        return Ok(None);
    };
    let until = blocked_until(&matching, &reason, trigger);
    let description = describe(&reason, until);
    Ok(Some(Blocked {
        kind: reason.kind,
        until: until.map(SystemTime::from),
        description,
        windows: reason.windows.iter().map(|w| w.index).collect(),
    }))
}

/// Checks that every window can be evaluated (the same checks as [`blocking_window`]).
pub fn check_windows(windows: &[Value]) -> Result<(), WindowError> {
    parse_all(windows).map(|_| ())
}

/// Steps of the `until` search: blocked stretches handed from one window to the next,
/// and re-fires of one window that keep it active.
const MAX_STEPS: usize = 1_000;

fn to_timestamp(time: SystemTime) -> Timestamp {
    Timestamp::try_from(time).unwrap_or(if time < SystemTime::UNIX_EPOCH {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Allow,
    Deny,
}

struct Window {
    index: usize,
    kind: Kind,
    schedule_text: String,
    schedule: Schedule,
    duration_text: String,
    duration: SignedDuration,
    time_zone_name: String,
    time_zone: TimeZone,
    applications: Vec<String>,
    namespaces: Vec<String>,
    clusters: Vec<String>,
    manual_sync: bool,
    and_operator: bool,
    description: String,
}

fn parse_all(windows: &[Value]) -> Result<Vec<Window>, WindowError> {
    windows
        .iter()
        .enumerate()
        .map(|(index, value)| Window::parse(index, value))
        .collect()
}

impl Window {
    fn parse(index: usize, value: &Value) -> Result<Window, WindowError> {
        let Some(map) = value.as_object() else {
            return Err(WindowError::NotAMapping { index });
        };
        let string = |field: &'static str| -> Result<Option<String>, WindowError> {
            match map.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(WindowError::Field {
                    index,
                    field,
                    reason: "must be a string".into(),
                }),
            }
        };
        let boolean = |field: &'static str| -> Result<bool, WindowError> {
            match map.get(field) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(WindowError::Field {
                    index,
                    field,
                    reason: "must be true or false".into(),
                }),
            }
        };
        let list = |field: &'static str| -> Result<Vec<String>, WindowError> {
            let bad = || WindowError::Field {
                index,
                field,
                reason: "must be a list of strings".into(),
            };
            match map.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
                    .collect(),
                Some(_) => Err(bad()),
            }
        };

        let kind = match string("kind")?.unwrap_or_default().as_str() {
            "allow" => Kind::Allow,
            "deny" => Kind::Deny,
            other => {
                return Err(WindowError::Kind {
                    index,
                    found: other.to_string(),
                });
            }
        };
        let schedule_text = string("schedule")?.unwrap_or_default();
        let schedule = Schedule::parse(&schedule_text).map_err(|reason| WindowError::Schedule {
            index,
            schedule: schedule_text.clone(),
            reason,
        })?;
        let duration_text = string("duration")?.unwrap_or_default();
        let duration = ladder_model::parse_duration(&duration_text)
            .map_err(|e| e.to_string())
            .and_then(|d| SignedDuration::try_from(d).map_err(|e| e.to_string()))
            .map_err(|reason| WindowError::Duration {
                index,
                duration: duration_text.clone(),
                reason,
            })?;
        // Argo CD's default; Go's time.LoadLocation reads "" as UTC too.
        let time_zone_name = string("timeZone")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "UTC".into());
        let time_zone = TimeZone::get(&time_zone_name).map_err(|e| WindowError::TimeZone {
            index,
            time_zone: time_zone_name.clone(),
            reason: e.to_string(),
        })?;
        Ok(Window {
            index,
            kind,
            schedule_text,
            schedule,
            duration_text,
            duration,
            time_zone_name,
            time_zone,
            applications: list("applications")?,
            namespaces: list("namespaces")?,
            clusters: list("clusters")?,
            manual_sync: boolean("manualSync")?,
            and_operator: boolean("andOperator")?,
            description: string("description")?.unwrap_or_default(),
        })
    }

    /// Argo CD's `SyncWindows.Matches` for one window (v3, with `andOperator`). Ladder's
    /// destinations are named, so the destination server never matches.
    fn matches(&self, target: &WindowTarget<'_>) -> bool {
        let any = |patterns: &[String], value: &str| {
            !value.is_empty() && patterns.iter().any(|p| glob_match(p, value))
        };
        let mut matched = false;
        let mut is_set = false;
        if !self.applications.is_empty() {
            is_set = true;
            // The Application name is never empty, so no emptiness guard here in Argo CD.
            matched = self
                .applications
                .iter()
                .any(|p| glob_match(p, target.application));
        }
        if self.and_operator && is_set && !matched {
            return false;
        } else if !self.and_operator && matched {
            return true;
        }
        if !self.clusters.is_empty() {
            is_set = true;
            matched = any(&self.clusters, target.cluster);
        }
        if self.and_operator && is_set && !matched {
            return false;
        } else if !self.and_operator && matched {
            return true;
        }
        if !self.namespaces.is_empty() {
            matched = self
                .namespaces
                .iter()
                .any(|p| glob_match(p, target.namespace));
        }
        matched
    }

    /// The wall clock Argo CD runs the cron on: `now` plus the zone's offset at `now`.
    fn local(&self, at: Timestamp) -> DateTime {
        self.time_zone.to_datetime(at)
    }

    /// Argo CD's `SyncWindow.active`.
    fn active_at(&self, at: Timestamp) -> bool {
        let local = self.local(at);
        match local.checked_sub(self.duration) {
            Err(_) => false,
            // robfig returns the zero time when nothing fires, which is before any time.
            Ok(from) => self.schedule.next(from).is_none_or(|start| start < local),
        }
    }

    /// The start of the current activation (wall clock), for an active window.
    fn current_start(&self, at: Timestamp) -> Option<DateTime> {
        self.schedule
            .next(self.local(at).checked_sub(self.duration).ok()?)
    }

    /// When an active window stops being active: its start plus duration, following
    /// re-fires that begin before that end. `None`: never (or not within the search).
    fn active_until(&self, at: Timestamp) -> Option<Timestamp> {
        let mut start = self.current_start(at)?;
        for _ in 0..MAX_STEPS {
            let end = start.checked_add(self.duration).ok()?;
            match self.schedule.next(start) {
                Some(next) if next < end => start = next,
                Some(_) => return first_instant_at_or_after(&self.time_zone, end, at),
                None => return None,
            }
        }
        None
    }

    /// When an inactive window next becomes active (just after this instant).
    fn next_start(&self, at: Timestamp) -> Option<Timestamp> {
        if self.duration <= SignedDuration::ZERO {
            return None; // never active
        }
        let start = self.current_start(at)?;
        first_instant_at_or_after(&self.time_zone, start, at)
    }

    fn label(&self) -> String {
        let kind = match self.kind {
            Kind::Allow => "allow",
            Kind::Deny => "deny",
        };
        let mut out = format!(
            "{kind} window syncWindows[{}] (`{}` for {}, {})",
            self.index, self.schedule_text, self.duration_text, self.time_zone_name
        );
        if !self.description.is_empty() {
            let _ = write!(out, " \"{}\"", self.description);
        }
        out
    }
}

/// The first instant from `not_before` on whose wall-clock time in `tz` reaches
/// `local`: the plain conversion; in a repeated hour the earlier instant unless it has
/// passed; in a skipped hour the moment the clocks jump.
fn first_instant_at_or_after(
    tz: &TimeZone,
    local: DateTime,
    not_before: Timestamp,
) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, after } => {
            let earlier = before.to_timestamp(local).ok()?;
            if earlier >= not_before {
                Some(earlier)
            } else {
                after.to_timestamp(local).ok()
            }
        }
        AmbiguousOffset::Gap { after, .. } => {
            // `local - after` lies before the transition that skips `local`.
            let before_gap = after.to_timestamp(local).ok()?;
            tz.following(before_gap)
                .next()
                .map(|transition| transition.timestamp())
        }
    }
}

struct Reason<'w> {
    kind: BlockKind,
    windows: Vec<&'w Window>,
    /// When this reason stops applying (not yet following the next reason).
    ends: Option<Timestamp>,
    at: Timestamp,
}

/// Argo CD's `SyncWindows.CanSync` over the matching windows, with why it says no.
fn evaluate<'w>(
    matching: &[&'w Window],
    at: Timestamp,
    trigger: SyncTrigger,
) -> Option<Reason<'w>> {
    let (active, inactive): (Vec<&Window>, Vec<&Window>) =
        matching.iter().partition(|w| w.active_at(at));
    let denies: Vec<&Window> = active
        .iter()
        .copied()
        .filter(|w| w.kind == Kind::Deny)
        .collect();
    if !denies.is_empty() {
        if trigger == SyncTrigger::Manual && denies.iter().all(|w| w.manual_sync) {
            return None;
        }
        let ends = denies
            .iter()
            .map(|w| w.active_until(at))
            .collect::<Option<Vec<_>>>()
            .and_then(|ends| ends.into_iter().max());
        return Some(Reason {
            kind: BlockKind::ActiveDeny,
            windows: denies,
            ends,
            at,
        });
    }
    if active.iter().any(|w| w.kind == Kind::Allow) {
        return None;
    }
    let allows: Vec<&Window> = inactive
        .into_iter()
        .filter(|w| w.kind == Kind::Allow)
        .collect();
    if allows.is_empty() || (trigger == SyncTrigger::Manual && allows.iter().all(|w| w.manual_sync))
    {
        return None;
    }
    let ends = allows.iter().filter_map(|w| w.next_start(at)).min();
    Some(Reason {
        kind: BlockKind::NoActiveAllow,
        windows: allows,
        ends,
        at,
    })
}

/// Follows blocked stretches until one ends with nothing else blocking just after it.
fn blocked_until(
    matching: &[&Window],
    first: &Reason<'_>,
    trigger: SyncTrigger,
) -> Option<Timestamp> {
    let mut end = first.ends?;
    for _ in 0..MAX_STEPS {
        let just_after = end.checked_add(SignedDuration::from_nanos(1)).ok()?;
        match evaluate(matching, just_after, trigger) {
            None => return Some(end),
            Some(next) => {
                let next_end = next.ends?;
                if next_end <= end {
                    return None;
                }
                end = next_end;
            }
        }
    }
    None
}

fn describe(reason: &Reason<'_>, until: Option<Timestamp>) -> String {
    let at_local = |w: &Window, t: Timestamp| {
        t.to_zoned(w.time_zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    };
    let mut out = String::new();
    match reason.kind {
        BlockKind::ActiveDeny => {
            let parts: Vec<String> = reason
                .windows
                .iter()
                .map(|w| {
                    let mut s = format!("{} is active", w.label());
                    if let Some(end) = w.active_until(reason.at) {
                        let _ = write!(s, " until {}", at_local(w, end));
                    }
                    s
                })
                .collect();
            out.push_str(&parts.join("; "));
        }
        BlockKind::NoActiveAllow => {
            out.push_str("no allow window is active");
            let next = reason
                .windows
                .iter()
                .filter_map(|w| w.next_start(reason.at).map(|t| (t, *w)))
                .min_by_key(|(t, _)| *t);
            match next {
                Some((t, w)) => {
                    let _ = write!(out, "; the next, {}, opens {}", w.label(), at_local(w, t));
                }
                None => {
                    let labels: Vec<String> = reason.windows.iter().map(|w| w.label()).collect();
                    let _ = write!(out, " ({})", labels.join("; "));
                }
            }
        }
    }
    match until {
        Some(t) => {
            let utc = t.strftime("%Y-%m-%d %H:%M UTC").to_string();
            let _ = write!(out, "; syncing is possible again from {utc}");
        }
        None => out.push_str("; no end in sight"),
    }
    out
}

// --- robfig/cron v3 (the parser Argo CD builds: Minute | Hour | Dom | Month | Dow) ---

/// The top bit of a field: the field was `*` or `?` (robfig's `starBit`).
const STAR: u64 = 1 << 63;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// robfig's `SpecSchedule`: one bit per allowed value. Seconds are always `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

impl Schedule {
    fn parse(spec: &str) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err("a TZ= prefix is not supported; set `timeZone` instead".into());
        }
        if spec.starts_with('@') {
            return Err(format!("parser does not accept descriptors: {spec}"));
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            ));
        }
        Ok(Schedule {
            minute: field(fields[0], &MINUTES)?,
            hour: field(fields[1], &HOURS)?,
            dom: field(fields[2], &DOM)?,
            month: field(fields[3], &MONTHS)?,
            dow: field(fields[4], &DOW)?,
        })
    }

    fn day_matches(&self, t: DateTime) -> bool {
        let dom = self.dom & (1 << t.day()) != 0;
        let dow = self.dow & (1 << t.weekday().to_sunday_zero_offset()) != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// robfig's `SpecSchedule.Next` in UTC (no DST): the first activation strictly
    /// after `t`, at whole seconds; `None` where robfig returns the zero time (nothing
    /// within five years).
    fn next(&self, t: DateTime) -> Option<DateTime> {
        let hour = SignedDuration::from_hours(1);
        let minute = SignedDuration::from_mins(1);
        let second = SignedDuration::from_secs(1);
        let at = |y: i16, m: i8, d: i8, h: i8, mi: i8| DateTime::new(y, m, d, h, mi, 0, 0).ok();

        // Start at the next whole second.
        let mut t = DateTime::new(
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            0,
        )
        .ok()?
        .checked_add(second)
        .ok()?;
        let mut added = false;
        let year_limit = t.year() + 5;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while self.month & (1 << t.month()) == 0 {
                if !added {
                    added = true;
                    t = at(t.year(), t.month(), 1, 0, 0)?;
                }
                t = if t.month() == 12 {
                    at(t.year().checked_add(1)?, 1, 1, 0, 0)?
                } else {
                    at(t.year(), t.month() + 1, 1, 0, 0)?
                };
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(t) {
                if !added {
                    added = true;
                    t = at(t.year(), t.month(), t.day(), 0, 0)?;
                }
                t = t.checked_add(SignedDuration::from_hours(24)).ok()?;
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while self.hour & (1 << t.hour()) == 0 {
                if !added {
                    added = true;
                    t = at(t.year(), t.month(), t.day(), t.hour(), 0)?;
                }
                t = t.checked_add(hour).ok()?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while self.minute & (1 << t.minute()) == 0 {
                if !added {
                    added = true;
                    t = at(t.year(), t.month(), t.day(), t.hour(), t.minute())?;
                }
                t = t.checked_add(minute).ok()?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Seconds: only 0 is allowed.
            while t.second() != 0 {
                // `t` is already at a whole second (robfig's truncation is a no-op).
                added = true;
                t = t.checked_add(second).ok()?;
                if t.second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }
}

/// robfig's `getField`: comma-separated ranges (empty pieces are dropped, as Go's
/// `strings.FieldsFunc` drops them).
fn field(text: &str, bounds: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for range in text.split(',').filter(|r| !r.is_empty()) {
        bits |= range_bits(range, bounds)?;
    }
    Ok(bits)
}

/// robfig's `getRange`: `*`, `?`, `N`, `N-M`, each optionally `/step`; `N/step` means
/// `N-max/step`.
fn range_bits(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let mut extra = 0;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        extra = STAR;
        (bounds.min, bounds.max)
    } else {
        let start = int_or_name(low_and_high[0], bounds)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_and_high[1], bounds)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = int(range_and_step[1])?;
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    let mut i = start;
    while i <= end {
        bits |= 1 << i;
        i += step;
    }
    Ok(bits | extra)
}

fn int_or_name(text: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, n)) = bounds.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    int(text)
}

/// Go's `strconv.Atoi`, then robfig's refusal of negatives.
fn int(text: &str) -> Result<u32, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("failed to parse int from {text}"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {text}"));
    }
    // Anything this large fails the bounds check anyway.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

// --- gobwas/glob without separators, as Argo CD's glob.Match compiles it ---

#[derive(Debug)]
enum Node {
    Char(char),
    /// `?`: any one character.
    One,
    /// `*` (or `**`): any run of characters.
    Any,
    /// `[lo-hi]`, `[chars]`, negated with `!`.
    Class {
        not: bool,
        chars: Vec<char>,
        range: Option<(char, char)>,
    },
    /// `{a,b}`: one of the alternatives.
    Alt(Vec<Vec<Node>>),
}

/// Argo CD's `globMatch` without negation: `*` matches everything; otherwise
/// gobwas/glob; a pattern that does not compile matches nothing.
fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0;
    let Some(nodes) = parse_glob(&chars, &mut pos, false) else {
        return false;
    };
    if pos != chars.len() {
        return false;
    }
    let text: Vec<char> = text.chars().collect();
    glob_nodes(&nodes, &text, &|rest| rest.is_empty())
}

/// Parses until the end (or, inside braces, until `,` or `}`, left unread).
fn parse_glob(p: &[char], pos: &mut usize, in_braces: bool) -> Option<Vec<Node>> {
    let mut nodes = Vec::new();
    while let Some(&c) = p.get(*pos) {
        match c {
            ',' | '}' if in_braces => break,
            '\\' => {
                *pos += 1;
                nodes.push(Node::Char(*p.get(*pos)?));
                *pos += 1;
            }
            '*' => {
                *pos += 1;
                if !matches!(nodes.last(), Some(Node::Any)) {
                    nodes.push(Node::Any);
                }
            }
            '?' => {
                *pos += 1;
                nodes.push(Node::One);
            }
            '[' => {
                *pos += 1;
                nodes.push(parse_class(p, pos)?);
            }
            '{' => {
                *pos += 1;
                let mut alternatives = Vec::new();
                loop {
                    alternatives.push(parse_glob(p, pos, true)?);
                    match p.get(*pos) {
                        Some(',') => *pos += 1,
                        Some('}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return None, // unclosed
                    }
                }
                nodes.push(Node::Alt(alternatives));
            }
            _ => {
                *pos += 1;
                nodes.push(Node::Char(c));
            }
        }
    }
    Some(nodes)
}

/// After `[`: an optional `!`, then `lo-hi` or characters (with `\` escapes) up to `]`.
fn parse_class(p: &[char], pos: &mut usize) -> Option<Node> {
    let mut not = false;
    if p.get(*pos) == Some(&'!') {
        not = true;
        *pos += 1;
    }
    if let (Some(&lo), Some('-'), Some(&hi)) = (p.get(*pos), p.get(*pos + 1), p.get(*pos + 2)) {
        *pos += 3;
        if p.get(*pos) != Some(&']') {
            return None;
        }
        *pos += 1;
        return Some(Node::Class {
            not,
            chars: Vec::new(),
            range: Some((lo, hi)),
        });
    }
    let mut chars = Vec::new();
    loop {
        match *p.get(*pos)? {
            ']' => {
                *pos += 1;
                return Some(Node::Class {
                    not,
                    chars,
                    range: None,
                });
            }
            '\\' => {
                chars.push(*p.get(*pos + 1)?);
                *pos += 2;
            }
            c => {
                chars.push(c);
                *pos += 1;
            }
        }
    }
}

fn glob_nodes(nodes: &[Node], text: &[char], then: &dyn Fn(&[char]) -> bool) -> bool {
    let Some((first, rest)) = nodes.split_first() else {
        return then(text);
    };
    match first {
        Node::Char(c) => text.first() == Some(c) && glob_nodes(rest, &text[1..], then),
        Node::One => !text.is_empty() && glob_nodes(rest, &text[1..], then),
        Node::Class { not, chars, range } => {
            let Some(&c) = text.first() else {
                return false;
            };
            let inside = match range {
                Some((lo, hi)) => (*lo..=*hi).contains(&c),
                None => chars.contains(&c),
            };
            inside != *not && glob_nodes(rest, &text[1..], then)
        }
        Node::Any => (0..=text.len()).any(|i| glob_nodes(rest, &text[i..], then)),
        Node::Alt(alternatives) => alternatives
            .iter()
            .any(|alt| glob_nodes(alt, text, &|after| glob_nodes(rest, after, then))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn next(spec: &str, from: &str) -> Option<String> {
        Schedule::parse(spec)
            .unwrap()
            .next(dt(from))
            .map(|t| t.to_string())
    }

    #[test]
    fn cron_next_matches_robfig() {
        assert_eq!(
            next("0 22 * * *", "2025-01-15T21:30:00").as_deref(),
            Some("2025-01-15T22:00:00")
        );
        // Strictly after: at the start second itself, the next one is tomorrow.
        assert_eq!(
            next("0 22 * * *", "2025-01-15T22:00:00").as_deref(),
            Some("2025-01-16T22:00:00")
        );
        assert_eq!(
            next("0 22 * * *", "2025-01-15T21:59:59.5").as_deref(),
            Some("2025-01-15T22:00:00")
        );
        // Day of month OR day of week when neither is `*`.
        assert_eq!(
            next("0 0 1 * mon", "2025-01-02T00:00:00").as_deref(),
            Some("2025-01-06T00:00:00")
        );
        // AND when one of them is `*`.
        assert_eq!(
            next("0 0 * * mon", "2025-01-02T00:00:00").as_deref(),
            Some("2025-01-06T00:00:00")
        );
        assert_eq!(
            next("*/15 9-17 * * 1-5", "2025-01-17T17:50:00").as_deref(),
            Some("2025-01-20T09:00:00")
        );
        assert_eq!(
            next("0 0 29 feb *", "2025-01-01T00:00:00").as_deref(),
            Some("2028-02-29T00:00:00")
        );
        assert_eq!(next("0 0 30 feb *", "2025-01-01T00:00:00"), None);
        assert_eq!(
            next("5/20 * * * *", "2025-01-01T00:06:00").as_deref(),
            Some("2025-01-01T00:25:00")
        );
        assert_eq!(
            next("0 0 * JAN,Dec SUN", "2025-02-01T00:00:00").as_deref(),
            Some("2025-12-07T00:00:00")
        );
    }

    #[test]
    fn cron_parse_errors() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "5-1 * * * *",
            "*/0 * * * *",
            "a * * * *",
            "1-2-3 * * * *",
            "1/2/3 * * * *",
            "@daily",
            "TZ=UTC 0 0 * * *",
            "-1 * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} parsed");
        }
        // `*/1` keeps the star bit; `*/2` drops it.
        assert_ne!(Schedule::parse("* * */1 * mon").unwrap().dom & STAR, 0);
        assert_eq!(Schedule::parse("* * */2 * mon").unwrap().dom & STAR, 0);
    }

    #[test]
    fn globs_as_gobwas() {
        assert!(glob_match("web-*", "web-prod"));
        assert!(glob_match("web-*", "web-"));
        assert!(!glob_match("web-*", "api-prod"));
        assert!(glob_match("*-prod", "a/b-prod"));
        assert!(glob_match("w?b-prod", "wxb-prod"));
        assert!(glob_match("{web,api}-*", "api-dev"));
        assert!(!glob_match("{web,api}-*", "db-dev"));
        assert!(glob_match("[a-c]pp", "bpp"));
        assert!(!glob_match("[!a-c]pp", "bpp"));
        assert!(glob_match("[xyz]", "y"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "a"));
        assert!(glob_match("a,b}", "a,b}"));
        assert!(!glob_match("{web", "{web"));
        assert!(!glob_match("[a-cx]", "a"));
        assert!(glob_match("prod", "prod"));
        assert!(!glob_match("prod", "production"));
    }
}
