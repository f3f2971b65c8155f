//! The shape of YAML paths in `promote` entries (`image.tag`, `a."b.c"[0]`,
//! `images[name=ghcr.io/acme/web].newTag`). The editor resolves them; the model only
//! checks that they are well formed, so a typo fails at load time, not at promotion time.

/// Checks a path's syntax and says what is wrong.
pub fn check(path: &str) -> Result<(), String> {
    let chars: Vec<char> = path.chars().collect();
    if chars.is_empty() {
        return Err("it is empty".into());
    }
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| format!("`[` at {} is not closed", i + 1))?;
                let inner: String = chars[i + 1..i + close].iter().collect();
                check_bracket(&inner)?;
                i += close + 1;
                expect_key = false;
            }
            '.' if !expect_key => {
                i += 1;
                expect_key = true;
                if i == chars.len() {
                    return Err("it ends with `.`".into());
                }
            }
            '.' => return Err(format!("empty key at {}", i + 1)),
            '"' if expect_key => {
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(format!("quote at {} is not closed", i + 1)),
                        Some('\\') => j += 2,
                        Some('"') => break,
                        Some(_) => j += 1,
                    }
                }
                if j == i + 1 {
                    return Err(format!("empty quoted key at {}", i + 1));
                }
                i = j + 1;
                expect_key = false;
            }
            ']' => return Err(format!("`]` at {} has no `[`", i + 1)),
            _ if expect_key => {
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']' | '"') {
                    i += 1;
                }
                expect_key = false;
            }
            c => {
                return Err(format!(
                    "unexpected `{c}` at {}; separate keys with `.`",
                    i + 1
                ));
            }
        }
    }
    Ok(())
}

fn check_bracket(inner: &str) -> Result<(), String> {
    if inner.is_empty() {
        return Err(
            "empty `[]`; write an index such as [0] or a selector such as [name=web]".into(),
        );
    }
    if inner.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    match inner.split_once('=') {
        Some((key, value)) if !key.is_empty() && !value.is_empty() => Ok(()),
        _ => Err(format!(
            "`[{inner}]` is neither an index nor a `key=value` selector"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_the_documented_forms() {
        for ok in [
            "image.tag",
            "podAnnotations.\"k8s.grafana.com/scrape\"",
            "containers[0].image",
            "images[name=ghcr.io/acme/web].newTag",
            "parameters[name=image.tag].value",
            "a[0][1]",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "", "a..b", ".a", "a.", "a[", "a[]", "a[x]", "a]", "\"a", "a\"b\"",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
