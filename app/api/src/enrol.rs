//! The enrolment QR code: the console shows
//! `choucha://enrol?server=<url>&code=<code>[&ca=<PEM, percent-encoded>]`;
//! the app reads it instead of having the officer type the server address
//! and the code, and, when the bureau runs its own certificate authority,
//! pins it.

use serde::{Deserialize, Serialize};

/// Where and with what code to enrol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolTarget {
    pub server_url: String,
    pub code: String,
    /// The bureau's certificate authority (PEM), to trust only it.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// Why a QR payload could not be read. Chinese first (shown on screen).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("二维码内容不是注册码（应以 choucha://enrol? 开头）(not an enrolment QR payload)")]
    NotEnrolment,
    #[error("二维码缺少 {0} (the QR payload has no {0})")]
    Missing(&'static str),
    #[error("二维码中的服务器地址须以 http:// 或 https:// 开头 (bad server address)")]
    BadServer,
}

/// Parses `choucha://enrol?server=…&code=…` (query values may be
/// percent-encoded; parameters in any order).
pub fn parse_qr(payload: &str) -> Result<EnrolTarget, QrError> {
    let query = payload
        .trim()
        .strip_prefix("choucha://enrol?")
        .ok_or(QrError::NotEnrolment)?;
    let mut server = None;
    let mut code = None;
    let mut ca_pem = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "server" => server = Some(v),
            "code" => code = Some(v),
            "ca" => ca_pem = Some(v).filter(|p| p.contains("-----BEGIN CERTIFICATE-----")),
            _ => {}
        }
    }
    let server_url = server
        .filter(|s| !s.trim().is_empty())
        .ok_or(QrError::Missing("server"))?;
    let code = code
        .filter(|s| !s.trim().is_empty())
        .ok_or(QrError::Missing("code"))?;
    if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
        return Err(QrError::BadServer);
    }
    Ok(EnrolTarget {
        server_url: server_url.trim().to_owned(),
        code: code.trim().to_owned(),
        ca_pem,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_console_payload() {
        let t = parse_qr("choucha://enrol?server=http://127.0.0.1:8080&code=K7QX-2M9P").unwrap();
        assert_eq!(t.server_url, "http://127.0.0.1:8080");
        assert_eq!(t.code, "K7QX-2M9P");
    }

    #[test]
    fn decodes_percent_escapes_and_any_order() {
        let t =
            parse_qr("choucha://enrol?code=AB%2DCD&server=https%3A%2F%2Fx.example%3A443").unwrap();
        assert_eq!(t.server_url, "https://x.example:443");
        assert_eq!(t.code, "AB-CD");
    }

    #[test]
    fn carries_the_bureaus_ca() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n";
        let encoded: String = pem
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let t = parse_qr(&format!(
            "choucha://enrol?server=https://x.example&code=AB&ca={encoded}"
        ))
        .unwrap();
        assert_eq!(t.ca_pem.as_deref(), Some(pem));
        let t = parse_qr("choucha://enrol?server=https://x.example&code=AB&ca=junk").unwrap();
        assert_eq!(t.ca_pem, None, "not a certificate");
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(parse_qr("hello"), Err(QrError::NotEnrolment));
        assert_eq!(
            parse_qr("choucha://enrol?server=http://a"),
            Err(QrError::Missing("code"))
        );
        assert_eq!(
            parse_qr("choucha://enrol?code=X"),
            Err(QrError::Missing("server"))
        );
        assert_eq!(
            parse_qr("choucha://enrol?server=ftp://a&code=X"),
            Err(QrError::BadServer)
        );
        // A lone or broken escape stays as typed.
        assert_eq!(
            parse_qr("choucha://enrol?server=http://a&code=X%")
                .unwrap()
                .code,
            "X%"
        );
        assert_eq!(
            parse_qr("choucha://enrol?server=http://a&code=X%zz")
                .unwrap()
                .code,
            "X%zz"
        );
    }
}
