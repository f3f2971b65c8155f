//! `cargo +nightly fuzz run set` (from crates/yamledit): the invariants of the property
//! test on arbitrary input. The first bytes choose the path and the new value; the rest
//! is the YAML text. Any input may be refused with an error, but never with a panic, and
//! an accepted edit must read back exactly. With YAMLEDIT_FUZZ_STRICT=1, an edit refused
//! by the internal verification also counts as a failure.

#![no_main]

use libfuzzer_sys::fuzz_target;
use yaml_rust2::{Yaml, YamlLoader};
use yamledit::{DocSelector, Edit, Error, Path, Segment, Value};

const VALUES: &[&str] = &["v2", "true", "1.20", "", "a: b", "#x", "x\ny\n", "'\"", "é日", "- x", "null", "0755"];

fn leaves(y: &Yaml, path: &mut Vec<Segment>, out: &mut Vec<Vec<Segment>>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                if let Some(k) = k.as_str() {
                    path.push(Segment::Key(k.to_string()));
                    leaves(v, path, out);
                    path.pop();
                }
            }
        }
        Yaml::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn put(y: &mut Yaml, path: &[Segment], value: Yaml) -> bool {
    let Some((seg, rest)) = path.split_first() else {
        *y = value;
        return true;
    };
    match (seg, y) {
        (Segment::Key(k), Yaml::Hash(h)) => match h.get_mut(&Yaml::String(k.clone())) {
            Some(child) => put(child, rest, value),
            None => false,
        },
        (Segment::Index(i), Yaml::Array(a)) => a.get_mut(*i).is_some_and(|c| put(c, rest, value)),
        _ => false,
    }
}

fn parses(text: &str) -> bool {
    let mut p = yaml_rust2::parser::Parser::new_from_str(text);
    loop {
        match p.next_token() {
            Ok((yaml_rust2::Event::StreamEnd, _)) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (pick, value) = (data[0] as usize, VALUES[data[1] as usize % VALUES.len()]);
    let Ok(text) = std::str::from_utf8(&data[2..]) else { return };
    // Never panics, whatever the input.
    let _ = yamledit::get(text, &DocSelector::Index(0), &Path::root());
    // yaml-rust2 does not skip a byte order mark; yamledit does, so the oracle must too.
    let bare = |t: &str| t.strip_prefix('\u{feff}').unwrap_or(t).to_string();
    if !parses(&bare(text)) {
        // The parser rejects it: set must too.
        let r = yamledit::set_many(text, &[Edit::new(Path::root(), value).in_doc(DocSelector::Index(0))]);
        assert!(matches!(r, Err(Error::Syntax { .. })), "{r:?}");
        return;
    }
    // The loader is stricter than the parser (duplicate keys, for one).
    let Ok(docs) = YamlLoader::load_from_str(&bare(text)) else { return };
    let Some(doc) = docs.first() else { return };
    let mut all = Vec::new();
    leaves(doc, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let path = Path::from_segments(all[pick % all.len()].clone());
    let edit = Edit::new(path.clone(), value).in_doc(DocSelector::Index(0));
    match yamledit::set_many(text, &[edit]) {
        Ok(out) => {
            let after = YamlLoader::load_from_str(&bare(&out)).expect("the edited text parses");
            let mut want = docs.clone();
            // The loader copies anchored data into every alias, so an edit of an anchored
            // value legitimately shows up in several places; and it resolves tags on keys
            // (`!!null : a`) into values a path cannot name. Compare only without either.
            if !text.contains(['*', '!']) && put(&mut want[0], &path.segments, Yaml::String(value.to_string())) {
                assert_eq!(after, want, "{path}");
            }
            let got = yamledit::get(&out, &DocSelector::Index(0), &path).expect("the edited path exists");
            assert_eq!(got, Value::from(value));
            // Outside one contiguous span, the bytes are the original ones, and that span
            // is no bigger than the old value's text can be (escapes, indentation).
            let old = match yamledit::get(text, &DocSelector::Index(0), &path) {
                Ok(v) => v.to_string(),
                Err(_) => return,
            };
            let old_len = old.len();
            // The value's text can be longer than the value (indentation on every line of
            // a block scalar, `0001208` for 1208): allow its lines at full width.
            let widest = text.lines().map(str::len).max().unwrap_or(0);
            let allowance = 8 * old_len + 64 + (old.matches('\n').count() + 2) * widest;
            let prefix = text.bytes().zip(out.bytes()).take_while(|(a, b)| a == b).count();
            let suffix = text.bytes().rev().zip(out.bytes().rev()).take_while(|(a, b)| a == b).count();
            let changed = text.len().saturating_sub(prefix + suffix);
            assert!(changed <= allowance, "{changed} bytes changed for a {old_len}-byte value");
        }
        // A refused edit is safe (nothing wrong is written), but it means yamledit wrote
        // text that yaml-rust2 did not read back as planned. Some of those are parser
        // quirks on odd layouts; set YAMLEDIT_FUZZ_STRICT=1 to stop on them too.
        Err(Error::Verification { message }) if std::env::var_os("YAMLEDIT_FUZZ_STRICT").is_some() => {
            panic!("internal verification failure: {message}")
        }
        Err(_) => {}
    }
});
