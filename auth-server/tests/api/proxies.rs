//! The client address behind a load balancer (`TRUSTED_PROXIES`): the audit trail's `source`,
//! the admin-token throttle and the console's sign-in record the client a trusted proxy names
//! in `X-Forwarded-For` or in a PROXY protocol v2 header; from any other peer neither is
//! believed. The tests connect from 127.0.0.1, so with `TRUSTED_PROXIES=127.0.0.1/32` the test
//! client plays the balancer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use auth_server::service::operators::Role;
use serde_json::{json, Value};
use shared::client_addr::TrustedProxies;

use crate::console_helpers::{add_operator, Browser, PASSWORD};
use crate::helpers::{spawn_app_with, TestApp, ADMIN_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

fn trusting(proxies: &'static str) -> impl FnOnce(&mut auth_server::Config) {
    move |c| c.common.trusted_proxies = TrustedProxies::parse(proxies).unwrap()
}

/// The newest audit event with `action`.
async fn newest(app: &TestApp, action: &str) -> Option<Value> {
    let page: Value = app
        .admin_get(&format!("/admin/audit-events?action={action}"))
        .await
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().first().cloned()
}

#[actix_web::test]
async fn the_audit_trail_records_the_forwarded_client_of_an_admin_write() {
    let app = spawn_app_with(trusting("127.0.0.1/32")).await;
    let resp = app
        .http
        .post(app.url("/admin/applications"))
        .bearer_auth(ADMIN_TOKEN)
        // A claim of the client's own, then the balancer's entry.
        .header("X-Forwarded-For", "192.0.2.1, 203.0.113.7")
        .json(&json!({"name": "ingest", "scopes": ["cases:read"], "environment": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let event = newest(&app, "application.create").await.unwrap();
    assert_eq!(event["source"], "203.0.113.7", "{event}");
}

#[actix_web::test]
async fn without_trusted_proxies_the_audit_source_is_the_peer_whatever_it_claims() {
    let app = spawn_app_with(|_| {}).await;
    let resp = app
        .http
        .post(app.url("/admin/applications"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Forwarded-For", "203.0.113.7")
        .json(&json!({"name": "ingest", "scopes": ["cases:read"], "environment": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let event = newest(&app, "application.create").await.unwrap();
    assert_eq!(event["source"], "127.0.0.1", "{event}");
}

#[actix_web::test]
async fn a_console_sign_in_is_audited_and_throttled_as_the_forwarded_client() {
    let app = spawn_app_with(trusting("127.0.0.1/32")).await;
    add_operator(&app, "ops@example.com", Role::Admin).await;
    let behind = |client: &str| {
        let mut b = Browser::new(&app);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", client.parse().unwrap());
        b.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        b
    };
    behind("203.0.113.7")
        .sign_in("ops@example.com", PASSWORD)
        .await;
    let event = newest(&app, "session.login").await.unwrap();
    assert_eq!(event["source"], "203.0.113.7", "{event}");
    // Wrong passwords for unknown accounts from one client exhaust that client's budget
    // (10 in a burst), not its neighbours' behind the same balancer.
    let mut guesser = behind("203.0.113.66");
    let mut codes = Vec::new();
    for i in 0..12 {
        let email = format!("nobody{i}@example.com");
        codes.push(
            guesser
                .login(&email, "wrong password!!", "")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
    let mut neighbour = behind("203.0.113.67");
    let resp = neighbour
        .login("nobody@example.com", "wrong password!!", "")
        .await;
    assert_eq!(resp.status(), 401);
}

#[actix_web::test]
async fn wrong_admin_tokens_are_throttled_per_forwarded_client() {
    let app = spawn_app_with(trusting("127.0.0.1/32")).await;
    let wrong = |client: &'static str| {
        app.http
            .get(app.url("/admin/applications"))
            .bearer_auth("not-the-admin-token-but-long-enough-000")
            .header("X-Forwarded-For", client)
            .send()
    };
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(wrong("203.0.113.7").await.unwrap().status().as_u16());
    }
    assert_eq!(&codes[..10], &[401; 10], "{codes:?}");
    assert!(codes[10..].iter().all(|c| *c == 429), "{codes:?}");
    assert_eq!(wrong("203.0.113.8").await.unwrap().status(), 401);
}

/// A PROXY protocol v2 header (TCP over IPv4, `PROXY` command) from `src` to `dst`, written
/// out byte by byte as the specification lays it out.
fn proxy_v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("IPv4 only here");
    };
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0x00, 12]);
    h.extend(s.ip().octets());
    h.extend(d.ip().octets());
    h.extend(s.port().to_be_bytes());
    h.extend(d.port().to_be_bytes());
    h
}

/// Sends `prefix` then an admin `POST /admin/applications` (with its own
/// `X-Forwarded-For: 192.0.2.1`) on one raw connection, and returns everything the server
/// answered before closing.
async fn raw_admin_post(app: &TestApp, prefix: Vec<u8>) -> String {
    let addr: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    actix_web::rt::task::spawn_blocking(move || {
        let body = r#"{"name":"via-proxy","scopes":["cases:read"],"environment":"sandbox"}"#;
        let request = format!(
            "POST /admin/applications HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             X-Forwarded-For: 192.0.2.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&prefix).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // A reset after the answer counts as the end.
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_proxy_protocol_header_from_a_trusted_peer_names_the_client() {
    let app = spawn_app_with(trusting("127.0.0.1/32")).await;
    let src: SocketAddr = "198.51.100.23:40000".parse().unwrap();
    let dst: SocketAddr = "10.0.0.5:8081".parse().unwrap();
    let answer = raw_admin_post(&app, proxy_v2(src, dst)).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let event = newest(&app, "application.create").await.unwrap();
    // The header's source is the peer now, and an untrusted one: its own
    // `X-Forwarded-For` is not believed.
    assert_eq!(event["source"], "198.51.100.23", "{event}");
    // Plain HTTP from the trusted peer (a balancer's health check) still works.
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn a_proxy_protocol_header_from_an_untrusted_peer_is_refused_and_nothing_is_written() {
    let app = spawn_app_with(trusting("10.0.0.0/8")).await;
    let src: SocketAddr = "198.51.100.23:40000".parse().unwrap();
    let dst: SocketAddr = "10.0.0.5:8081".parse().unwrap();
    let answer = raw_admin_post(&app, proxy_v2(src, dst)).await;
    // Not HTTP: 400, and the connection closed.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(newest(&app, "application.create").await.is_none());
}

#[test]
fn a_bad_trusted_proxies_entry_exits_2_naming_the_variable_and_the_entry() {
    let (code, stderr) =
        shared::testing::config_outcome(BIN, &["migrate"], &[("TRUSTED_PROXIES", "not-a-cidr")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("TRUSTED_PROXIES") && stderr.contains("`not-a-cidr`"),
        "{stderr}"
    );
}
