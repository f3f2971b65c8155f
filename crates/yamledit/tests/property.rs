//! Property test: for generated documents and edits, the result parses; read by an
//! independent loader (yaml-rust2's `YamlLoader`) it is the original data with only the
//! edited value changed; and the bytes before and after the edited scalar (or the
//! insertion point) are the original bytes.

use proptest::prelude::*;
use yaml_rust2::{Yaml, YamlLoader};
use yamledit::{Path, Segment, Value};

#[derive(Debug, Clone)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(Style, String),
    Map(Vec<(String, Node)>),
    FlowMap(Vec<(String, String)>),
    Seq(Vec<(Style, String)>),
}

#[derive(Debug, Clone)]
struct Layout {
    step: usize,
    crlf: bool,
    bom: bool,
    comments: Vec<bool>,
}

/// Where things landed in the rendered text.
#[derive(Default, Debug)]
struct Spans {
    /// Every scalar value: its path and byte span.
    scalars: Vec<(Vec<Segment>, usize, usize)>,
    /// Every block mapping: its path and the offset just after its last line.
    maps: Vec<(Vec<Segment>, usize)>,
}

fn plain_text() -> impl Strategy<Value = String> {
    "[a-zé日][a-z0-9é日 ._/-]{0,10}[a-z0-9]"
}

fn quoted_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 :#'\"é日,{}\\[\\]\\\\-]{0,12}"
}

fn block_text() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9é][a-z0-9 é#:]{0,12}", 1..4)
        .prop_map(|lines| lines.join("\n") + "\n")
}

fn scalar() -> impl Strategy<Value = (Style, String)> {
    prop_oneof![
        4 => plain_text().prop_map(|s| (Style::Plain, s)),
        2 => quoted_text().prop_map(|s| (Style::Single, s)),
        2 => quoted_text().prop_map(|s| (Style::Double, s)),
        1 => block_text().prop_map(|s| (Style::Literal, s)),
        1 => block_text().prop_map(|s| (Style::Folded, s)),
    ]
}

fn inline_scalar() -> impl Strategy<Value = (Style, String)> {
    prop_oneof![
        plain_text().prop_map(|s| (Style::Plain, s)),
        quoted_text().prop_map(|s| (Style::Single, s)),
        quoted_text().prop_map(|s| (Style::Double, s)),
    ]
}

fn keys(n: usize) -> impl Strategy<Value = Vec<String>> {
    // A `k` prefix keeps keys strings (no `null`, `true` or numbers as keys); the index
    // keeps them unique.
    prop::collection::vec("k[a-z]{0,4}", n).prop_map(|ks| {
        ks.into_iter()
            .enumerate()
            .map(|(i, k)| format!("{k}{i}"))
            .collect()
    })
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        6 => scalar().prop_map(|(st, s)| Node::Scalar(st, s)),
        1 => (keys(2), prop::collection::vec(plain_text(), 2))
            .prop_map(|(ks, vs)| Node::FlowMap(ks.into_iter().zip(vs).collect())),
        1 => prop::collection::vec(inline_scalar(), 1..4).prop_map(Node::Seq),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        (1usize..5)
            .prop_flat_map(move |n| (keys(n), prop::collection::vec(inner.clone(), n)))
            .prop_map(|(ks, vs)| Node::Map(ks.into_iter().zip(vs).collect()))
    })
}

fn document() -> impl Strategy<Value = (Vec<(String, Node)>, Layout)> {
    (1usize..6).prop_flat_map(|n| {
        (
            keys(n),
            prop::collection::vec(node(), n),
            (
                prop_oneof![Just(2usize), Just(4)],
                any::<bool>(),
                any::<bool>(),
                prop::collection::vec(any::<bool>(), 64),
            ),
        )
            .prop_map(|(ks, vs, (step, crlf, bom, comments))| {
                (
                    ks.into_iter().zip(vs).collect(),
                    Layout {
                        step,
                        crlf,
                        bom,
                        comments,
                    },
                )
            })
    })
}

struct Renderer<'a> {
    out: String,
    layout: &'a Layout,
    spans: Spans,
    coin: usize,
}

impl Renderer<'_> {
    fn flip(&mut self) -> bool {
        self.coin += 1;
        self.layout.comments[self.coin % self.layout.comments.len()]
    }

    fn nl(&mut self) {
        self.out
            .push_str(if self.layout.crlf { "\r\n" } else { "\n" });
    }

    fn inline(&mut self, style: &Style, s: &str) -> (usize, usize) {
        let start = self.out.len();
        match style {
            Style::Plain => self.out.push_str(s),
            Style::Single => self.out.push_str(&format!("'{}'", s.replace('\'', "''"))),
            _ => self.out.push_str(&format!(
                "\"{}\"",
                s.replace('\\', "\\\\").replace('"', "\\\"")
            )),
        }
        (start, self.out.len())
    }

    fn map(&mut self, entries: &[(String, Node)], indent: usize, path: &mut Vec<Segment>) {
        let pad = " ".repeat(indent);
        for (k, v) in entries {
            if self.flip() && self.flip() {
                self.out.push_str(&format!("{pad}# about {k} é"));
                self.nl();
            }
            if self.flip() && self.flip() {
                self.nl();
            }
            path.push(Segment::Key(k.clone()));
            self.out.push_str(&format!("{pad}{k}:"));
            match v {
                Node::Scalar(style @ (Style::Literal | Style::Folded), text) => {
                    self.out.push(' ');
                    let start = self.out.len();
                    self.out.push(if matches!(style, Style::Literal) {
                        '|'
                    } else {
                        '>'
                    });
                    if self.flip() {
                        self.out.push_str("  # block");
                    }
                    let inner = " ".repeat(indent + self.layout.step);
                    let mut end = self.out.len();
                    for line in text.trim_end_matches('\n').split('\n') {
                        self.nl();
                        self.out.push_str(&inner);
                        self.out.push_str(line);
                        end = self.out.len();
                    }
                    self.spans.scalars.push((path.clone(), start, end));
                    self.nl();
                }
                Node::Scalar(style, text) => {
                    self.out.push(' ');
                    let (a, b) = self.inline(style, text);
                    self.spans.scalars.push((path.clone(), a, b));
                    if self.flip() {
                        self.out.push_str(" # trailing, ü");
                    }
                    self.nl();
                }
                Node::FlowMap(pairs) => {
                    self.out.push_str(" {");
                    for (i, (fk, fv)) in pairs.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(", ");
                        }
                        self.out.push_str(fk);
                        self.out.push_str(": ");
                        let (a, b) = self.inline(&Style::Plain, fv);
                        let mut p = path.clone();
                        p.push(Segment::Key(fk.clone()));
                        self.spans.scalars.push((p, a, b));
                    }
                    self.out.push('}');
                    self.nl();
                }
                Node::Seq(items) => {
                    self.nl();
                    let item_pad = " ".repeat(indent + self.layout.step);
                    for (i, (st, s)) in items.iter().enumerate() {
                        self.out.push_str(&format!("{item_pad}- "));
                        let (a, b) = self.inline(st, s);
                        let mut p = path.clone();
                        p.push(Segment::Index(i));
                        self.spans.scalars.push((p, a, b));
                        self.nl();
                    }
                }
                Node::Map(inner) => {
                    if self.flip() {
                        self.out.push_str(" # section");
                    }
                    self.nl();
                    self.map(inner, indent + self.layout.step, path);
                }
            }
            path.pop();
        }
        self.spans.maps.push((path.clone(), self.out.len()));
    }
}

fn render(entries: &[(String, Node)], layout: &Layout) -> (String, Spans) {
    let mut r = Renderer {
        out: String::new(),
        layout,
        spans: Spans::default(),
        coin: 0,
    };
    if layout.bom {
        r.out.push('\u{feff}');
    }
    r.out.push_str("# generated é");
    r.nl();
    r.map(entries, 0, &mut Vec::new());
    (r.out, r.spans)
}

fn new_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[ -~é日\n\t]{0,16}".prop_map(Value::String),
        3 => prop::sample::select(vec![
            "true", "1.20", "0755", "null", "~", "", "1e3", "yes", "a: b", "#x", "- x", "'q'", "\"", "x\ny\n",
            "  lead", "trail  ", "é日本", "v1.2.3", "x, y", "[a]", "{b}", "*a", "&b", "!t", "|", ">", "%", "@", "`",
            "---", "...", "a #b", "line\n", "two\n\n",
        ])
        .prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::Int),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
}

fn as_yaml(v: &Value) -> Yaml {
    match v {
        Value::String(s) => Yaml::String(s.clone()),
        Value::Int(i) => Yaml::Integer(*i),
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Null => Yaml::Null,
        Value::Float(f) => Yaml::Real(format!("{f:?}")),
    }
}

fn put(y: &mut Yaml, path: &[Segment], value: Yaml) {
    let Some((seg, rest)) = path.split_first() else {
        *y = value;
        return;
    };
    match (seg, y) {
        (Segment::Key(k), Yaml::Hash(h)) => {
            let key = Yaml::String(k.clone());
            if !h.contains_key(&key) {
                h.insert(key.clone(), Yaml::Hash(Default::default()));
            }
            put(h.get_mut(&key).unwrap(), rest, value);
        }
        (Segment::Index(i), Yaml::Array(a)) => put(&mut a[*i], rest, value),
        (seg, y) => panic!("cannot follow {seg:?} in {y:?}"),
    }
}

fn load(text: &str) -> Yaml {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .remove(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn replace_changes_only_the_value((entries, layout) in document(), pick in any::<prop::sample::Index>(), value in new_value()) {
        let (text, spans) = render(&entries, &layout);
        let (path, start, end) = &spans.scalars[pick.index(spans.scalars.len())];
        let path = Path::from_segments(path.clone());
        let out = yamledit::set(&text, &path, value.clone()).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        let mut want = load(&text);
        put(&mut want, &path.segments, as_yaml(&value));
        prop_assert_eq!(load(&out), want, "{}\n{}", text, out);
        let tail = text.len() - end;
        prop_assert_eq!(&out[..*start], &text[..*start]);
        prop_assert_eq!(&out[out.len() - tail..], &text[*end..]);
        prop_assert_eq!(yamledit::get(&out, &Default::default(), &path).unwrap(), value);
    }

    #[test]
    fn insert_adds_only_the_new_keys((entries, layout) in document(), pick in any::<prop::sample::Index>(), value in new_value(), deep in any::<bool>()) {
        let (text, spans) = render(&entries, &layout);
        let (map_path, at) = &spans.maps[pick.index(spans.maps.len())];
        let mut segments = map_path.clone();
        segments.push(Segment::Key("knew".into()));
        if deep {
            segments.push(Segment::Key("kdeep".into()));
        }
        let path = Path::from_segments(segments);
        let out = yamledit::set(&text, &path, value.clone()).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        let mut want = load(&text);
        put(&mut want, &path.segments, as_yaml(&value));
        prop_assert_eq!(load(&out), want, "{}\n{}", text, out);
        let tail = text.len() - at;
        prop_assert_eq!(&out[..*at], &text[..*at]);
        prop_assert_eq!(&out[out.len() - tail..], &text[*at..]);
    }

    #[test]
    fn batch_equals_one_by_one((entries, layout) in document(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4), value in new_value()) {
        let (text, spans) = render(&entries, &layout);
        let mut paths: Vec<Path> = picks.iter().map(|p| Path::from_segments(spans.scalars[p.index(spans.scalars.len())].0.clone())).collect();
        paths.sort_by_key(|p| p.to_string());
        paths.dedup();
        let edits: Vec<yamledit::Edit> = paths.iter().map(|p| yamledit::Edit::new(p.clone(), value.clone())).collect();
        let batch = yamledit::set_many(&text, &edits).unwrap();
        let mut one_by_one = text.clone();
        for p in &paths {
            one_by_one = yamledit::set(&one_by_one, p, value.clone()).unwrap();
        }
        prop_assert_eq!(batch, one_by_one);
    }
}

/// A scalar of one YAML type, as a file writes it, and the type's name.
fn typed_text() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        any::<i64>().prop_map(|i| ("int", i.to_string())),
        (-1e9f64..1e9).prop_map(|f| ("float", format!("{f:?}"))),
        any::<bool>().prop_map(|b| ("bool", b.to_string())),
        plain_text().prop_map(|s| ("string", s)),
        quoted_text().prop_map(|s| ("string", format!("'{}'", s.replace('\'', "''")))),
    ]
}

/// What `Edit::like_old` must write over a value of type `old`: the typed value, or
/// `None` when the text cannot be one.
fn like_old_expected(old: &str, text: &str) -> Option<Value> {
    match old {
        "string" => Some(Value::String(text.to_string())),
        "int" => text.trim().parse().ok().map(Value::Int),
        "float" => match yamledit::resolve_plain(text.trim()) {
            Value::Float(f) => Some(Value::Float(f)),
            Value::Int(i) => Some(Value::Float(i as f64)),
            _ => None,
        },
        "bool" => match yamledit::resolve_plain(text.trim()) {
            Value::Bool(b) => Some(Value::Bool(b)),
            _ => None,
        },
        _ => unreachable!(),
    }
}

/// A comment or blank line after the last entry of a file: one indented by 1 (deeper
/// than the root's keys, shallower than any block scalar's text), one at column 0, or
/// a blank line.
fn trailer() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..3, 0..5)
}

/// Where a key added at the end goes: after the trailing lines that belong to the last
/// entry (indented ones; at column 0 only before any blank line).
fn belonging(trailer: &[u8]) -> usize {
    let mut blank = false;
    let mut n = 0;
    for (i, &t) in trailer.iter().enumerate() {
        match t {
            0 => n = i + 1,
            1 if !blank => n = i + 1,
            1 => break,
            _ => blank = true,
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn like_old_keeps_the_type_or_refuses(
        entries in prop::collection::vec(typed_text(), 1..6),
        pick in any::<prop::sample::Index>(),
        new in typed_text(),
        comment in any::<bool>(),
    ) {
        let mut text = String::from("# typed\n");
        let mut spans = Vec::new();
        for (i, (_, t)) in entries.iter().enumerate() {
            text.push_str(&format!("k{i}: "));
            spans.push((text.len(), text.len() + t.len()));
            text.push_str(t);
            if comment {
                text.push_str("  # c");
            }
            text.push('\n');
        }
        let i = pick.index(entries.len());
        let (old, _) = entries[i];
        // The new text as a person would type it: unquoted.
        let typed = new.1.trim_matches('\'').replace("''", "'");
        let path = Path::parse(&format!("k{i}")).unwrap();
        let got = yamledit::set_many(&text, &[yamledit::Edit::like_old(path.clone(), typed.clone())]);
        match like_old_expected(old, &typed) {
            Some(value) => {
                let out = got.unwrap_or_else(|e| panic!("{e}\n{text}"));
                prop_assert_eq!(yamledit::get(&out, &Default::default(), &path).unwrap(), value);
                let (start, end) = spans[i];
                prop_assert_eq!(&out[..start], &text[..start]);
                prop_assert_eq!(&out[out.len() - (text.len() - end)..], &text[end..]);
            }
            None => {
                let err = got.unwrap_err();
                let refused = matches!(&err, yamledit::Error::TypeMismatch { old_kind, .. } if *old_kind == old);
                prop_assert!(refused, "{}", err);
            }
        }
    }

    #[test]
    fn insert_at_the_end_keeps_the_comments_where_they_belong(
        (entries, layout) in document(),
        trailer in trailer(),
        value in new_value(),
    ) {
        let (mut text, _) = render(&entries, &layout);
        let nl = if layout.crlf { "\r\n" } else { "\n" };
        let mut at = text.len();
        for (i, &t) in trailer.iter().enumerate() {
            text.push_str(match t {
                0 => " # deep é",
                1 => "# top",
                _ => "",
            });
            text.push_str(nl);
            if i + 1 == belonging(&trailer) {
                at = text.len();
            }
        }
        let path = Path::from_segments(vec![Segment::Key("knew".into())]);
        let out = yamledit::set(&text, &path, value.clone()).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        let mut want = load(&text);
        put(&mut want, &path.segments, as_yaml(&value));
        prop_assert_eq!(load(&out), want, "{}\n{}", text, out);
        let tail = text.len() - at;
        prop_assert_eq!(&out[..at], &text[..at], "{}\n{}", text, out);
        prop_assert_eq!(&out[out.len() - tail..], &text[at..]);
    }
}
