use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod revision;

const DEFAULT_PORT: u16 = 8000;
const HEALTH_STATUS: u16 = @HEALTH_STATUS@;

fn parse_port(raw: Option<String>) -> u16 {
    match raw {
        @PORT_ARM@
        None => DEFAULT_PORT,
    }
}

fn predict(input: i64) -> i64 {
    @PREDICTION@
}

fn reason_phrase(status: u16) -> &'static str {
    @REASON@
}

fn query_value(query: &str, key: &str) -> Option<i64> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name == key { value.parse().ok() } else { None }
    })
}

fn route(method: &str, target: &str) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (method, path) {
        ("GET", "/health") => {
            let status = if HEALTH_STATUS == 200 { "ok" } else { "degraded" };
            let body = format!(
                "{{\"status\":\"{}\",\"revision\":{}}}",
                status,
                revision::REVISION
            );
            (HEALTH_STATUS, body)
        }
        ("GET", "/predict") => match query_value(query, "x") {
            Some(x) => (200, format!("{{\"x\":{},\"y\":{}}}", x, predict(x))),
            None => (400, "{\"error\":\"missing x\"}".to_string()),
        },
        _ => (404, "{\"error\":\"not found\"}".to_string()),
    }
}

fn handle(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let (status, body) = route(method, target);
    let response = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        status,
        reason_phrase(status),
        body.len(),
        body
    );
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()
}

fn main() {
    let port = parse_port(std::env::var("PORT").ok());
    let listener = TcpListener::bind(("0.0.0.0", port)).expect("cannot bind the port");
    println!("listening on 0.0.0.0:{} (revision {})", port, revision::REVISION);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(error) = handle(stream) {
                    eprintln!("request failed: {}", error);
                }
            }
            Err(error) => eprintln!("accept failed: {}", error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_defaults_to_8000() {
        assert_eq!(parse_port(None), 8000);
        assert_eq!(parse_port(Some("9001".to_string())), 9001);
    }

    #[test]
    fn predict_doubles_input() {
        assert_eq!(predict(21), 42);
    }

    #[test]
    fn health_reports_revision() {
        let (_, body) = route("GET", "/health");
        assert!(body.contains("revision"));
    }

    #[test]
    fn unknown_path_is_not_found() {
        assert_eq!(route("GET", "/nope").0, 404);
        assert_eq!(reason_phrase(404), "Not Found");
    }
@FLAKY_TEST@}
