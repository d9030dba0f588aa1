//! A small HTTP/1.1 client over loopback (ureq, no TLS, no cookie jar: the scenarios carry their
//! cookies by hand, the way a curl session does) and the reply with helpers to assert
//! on status, headers, cookies and JSON bodies.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use ureq::http::Request;
use ureq::Agent;

/// One HTTP exchange's answer.
#[derive(Clone)]
pub struct Reply {
    pub method: String,
    pub url: String,
    pub status: u16,
    /// Header names lower-cased, in the order received; repeated names kept.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header for cookie `name`, whole (value and attributes).
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        set_cookie_named(self.headers_named("set-cookie"), name)
    }

    /// The body as JSON; panics (showing the exchange) when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}) in {self}"))
    }

    /// Panics unless the status is `want`.
    #[track_caller]
    pub fn expect(&self, want: u16) -> &Self {
        assert_eq!(self.status, want, "unexpected status in {self}");
        self
    }

    /// PostgREST's error body: asserts `code` and `message` (the JSON keys PostgREST uses).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, message: &str) -> &Self {
        self.expect(status);
        let j = self.json();
        assert_eq!(j["code"], code, "error code in {self}");
        assert_eq!(j["message"], message, "error message in {self}");
        self
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} -> {}", self.method, self.url, self.status)?;
        for (k, v) in &self.headers {
            writeln!(f, "  {k}: {v}")?;
        }
        let body: String = self.body.chars().take(2000).collect();
        write!(f, "  body: {body}")
    }
}

/// A parsed `Set-Cookie` header: `name=value; Attr; Attr=x ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub raw: String,
    pub name: String,
    pub value: String,
    /// Attribute names lower-cased, values as sent.
    pub attrs: Vec<(String, Option<String>)>,
}

impl SetCookie {
    pub fn parse(raw: &str) -> Option<SetCookie> {
        let mut parts = raw.split(';');
        let (name, value) = parts.next()?.trim().split_once('=')?;
        let attrs = parts
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
                None => (p.to_ascii_lowercase(), None),
            })
            .collect();
        Some(SetCookie {
            raw: raw.to_string(),
            name: name.trim().to_string(),
            value: value.trim().to_string(),
            attrs,
        })
    }

    /// An attribute's value (`Some("")` for a flag such as HttpOnly), None when absent.
    pub fn attr(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.attrs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// The last `Set-Cookie` among `values` that sets cookie `name`.
pub fn set_cookie_named<'a>(
    values: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<SetCookie> {
    values
        .into_iter()
        .filter_map(SetCookie::parse)
        .filter(|c| c.name == name)
        .last()
}

/// A client with bounded waits (connect 5 s, whole exchange 30 s), no redirects, no proxy.
#[derive(Clone)]
pub struct Http {
    agent: Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Http {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Http { agent }
    }

    /// Sends one request. `headers` as (name, value); `body` sent as given (set Content-Type
    /// yourself). Panics on a transport error (connection refused, timeout).
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        self.try_send(method, url, headers, body)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// `send`, returning transport errors.
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Reply, ureq::Error> {
        let mut b = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut resp = match body {
            Some(body) => self.agent.run(b.body(body.to_string())?)?,
            None => self.agent.run(b.body(())?)?,
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()?;
        Ok(Reply {
            method: method.to_string(),
            url: url.to_string(),
            status,
            headers,
            body,
        })
    }

    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", url, headers, None)
    }

    /// POST with a JSON body (Content-Type: application/json added).
    pub fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut h = headers.to_vec();
        h.push(("Content-Type", "application/json"));
        self.send("POST", url, &h, Some(body))
    }
}
