//! The little of HTTP/1.1 the test servers need: read one request (headers and body,
//! chunked or not) from a keep-alive connection, and keep a record of it for tests.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};

/// One request as a server saw it, for tests to assert on (which credentials went where).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent: the path and the query, e.g.
    /// `/tenant.git/info/refs?service=git-upload-pack`.
    pub path: String,
    /// The raw `Authorization` header, if any (e.g. `Basic cm9ib3Q6...`).
    pub authorization: Option<String>,
}

/// Requests recorded by one server, shared with its connection threads.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<RecordedRequest>>>);

impl Log {
    pub fn record(&self, request: &Request) {
        self.0.lock().unwrap().push(RecordedRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            authorization: request.headers.get("authorization").cloned(),
        });
    }

    pub fn all(&self) -> Vec<RecordedRequest> {
        self.0.lock().unwrap().clone()
    }
}

pub(crate) struct Request {
    pub method: String,
    pub target: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The next request on the connection, or `None` once the client closed it.
    pub fn read(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(None);
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let body = read_body(reader, &headers)?;
        Ok(Some(Request {
            method,
            target,
            headers,
            body,
        }))
    }
}

fn read_body(
    reader: &mut impl BufRead,
    headers: &HashMap<String, String>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Standard base64 with padding, for the expected `Authorization: Basic` value.
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"robot:pw"), "cm9ib3Q6cHc=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn reads_chunked_and_sized_bodies() {
        let raw = b"POST /a?b=c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nAuthorization: Basic x\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /z HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
        let mut reader = &raw[..];
        let first = Request::read(&mut reader).unwrap().unwrap();
        assert_eq!(
            (first.method.as_str(), first.target.as_str()),
            ("POST", "/a?b=c")
        );
        assert_eq!(first.body, b"abcde");
        assert_eq!(first.headers["authorization"], "Basic x");
        let second = Request::read(&mut reader).unwrap().unwrap();
        assert_eq!(second.body, b"ok");
        assert!(Request::read(&mut reader).unwrap().is_none());
    }
}
