//! Byte offsets from parser marks.
//!
//! yaml-rust2's `Marker::index` mixes character and byte counts (it drifts after
//! multi-byte text), so it is never used. Lines are reliable (`\n`, `\r\n` and a lone `\r`
//! each end one line), and the column counts characters from the start of the line, so a
//! mark is turned into a byte offset through a table of line starts. A UTF-8 byte order
//! mark is not understood by the scanner at all: it is cut off before parsing and every
//! offset is shifted past it.

use crate::error::Location;
use yaml_rust2::scanner::Marker;

pub(crate) const BOM: &str = "\u{feff}";

pub(crate) struct Source<'a> {
    /// The whole text, BOM included.
    pub text: &'a str,
    /// Byte length of the BOM (0 or 3).
    pub base: usize,
    /// Byte offset (in `text`) where each line starts; index 0 is line 1.
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let base = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let bytes = text.as_bytes();
        let mut line_starts = Vec::with_capacity(bytes.len() / 32 + 1);
        line_starts.push(base);
        for i in memchr::memchr2_iter(b'\n', b'\r', &bytes[base..]).map(|i| i + base) {
            if bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n') {
                line_starts.push(i + 1);
            }
        }
        Source {
            text,
            base,
            line_starts,
        }
    }

    /// The text the parser sees.
    pub fn parsed(&self) -> &'a str {
        &self.text[self.base..]
    }

    pub fn offset(&self, mark: &Marker) -> usize {
        self.offset_of(mark.line(), mark.col())
    }

    /// Byte offset of 1-based `line` and 0-based character column `col`.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        // Fast path: an ASCII prefix has one byte per character.
        if rest.len() >= col && rest.as_bytes()[..col].is_ascii() {
            return start + col;
        }
        match rest.char_indices().nth(col) {
            Some((i, _)) => start + i,
            None => self.text.len(),
        }
    }

    /// 1-based line and character column of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts[line_idx].min(offset);
        Location {
            line: line_idx + 1,
            column: self.text[start..offset].chars().count() + 1,
        }
    }

    /// Byte offset just past the line break of the line holding `offset` (or the end of
    /// the text when that line has no break).
    pub fn next_line_start(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => self.line_starts.get(i + 1).copied(),
            Err(i) => self.line_starts.get(i).copied(),
        }
        .unwrap_or(self.text.len())
    }

    /// The line break this file uses: CRLF when its first line ends that way.
    pub fn newline(&self) -> &'static str {
        let bytes = self.text.as_bytes();
        match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') => "\r\n",
            Some(i) if bytes[i] == b'\r' => "\r",
            _ => "\n",
        }
    }

    pub fn scan_error_location(&self, mark: &Marker) -> Location {
        let off = self.offset(mark);
        self.location(off)
    }

    /// The offset of the `|` or `>` of the block scalar whose content the parser marked
    /// at `mark`: on the mark itself, or on the nearest line above that is not blank
    /// (only blank lines can sit between a header and the first content line).
    pub fn block_header(&self, mark: usize) -> Option<usize> {
        let bytes = self.text.as_bytes();
        if matches!(bytes.get(mark), Some(b'|' | b'>')) && header_at(bytes, mark) {
            return Some(mark);
        }
        let loc = self.location(mark);
        let mut line = loc.line - 1; // 1-based number of the line above
        while line >= 1 {
            let start = self.line_starts[line - 1];
            let end = self
                .line_starts
                .get(line)
                .copied()
                .unwrap_or(self.text.len());
            let content = &bytes[start..end];
            if content
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                line -= 1;
                continue;
            }
            return (start..end).find(|&i| {
                matches!(bytes[i], b'|' | b'>')
                    && (i == start || matches!(bytes[i - 1], b' ' | b'\t'))
                    && header_at(bytes, i)
            });
        }
        None
    }
}

/// Is there a block scalar header (`|`, `>-`, `|2+`...) at `i`, followed by nothing but
/// blanks and a comment?
fn header_at(bytes: &[u8], i: usize) -> bool {
    let mut j = i + 1;
    let mut n = 0;
    while j < bytes.len() && n < 2 && matches!(bytes[j], b'-' | b'+' | b'1'..=b'9') {
        j += 1;
        n += 1;
    }
    let mut k = j;
    while k < bytes.len() && matches!(bytes[k], b' ' | b'\t') {
        k += 1;
    }
    match bytes.get(k) {
        None | Some(b'\n' | b'\r') => true,
        Some(b'#') => k > j,
        _ => false,
    }
}
