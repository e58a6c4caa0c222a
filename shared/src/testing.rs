//! Test support (feature `testing`): a fresh database per test.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// A fresh database that is removed when dropped.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        server_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// `TEST_DATABASE_URL=postgres://user@host:port/postgres` → a new database on that server;
    /// unset or empty → a SQLite file in a temporary directory.
    pub fn create() -> TestDb {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(server_url) if server_url.starts_with("postgres") => {
                let name = format!("cf_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&server_url)
                    .expect("TEST_DATABASE_URL must be reachable");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let base = server_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&server_url);
                let url = format!("{base}/{name}");
                TestDb::Postgres {
                    server_url,
                    name,
                    url,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("caseforge.db").display());
                TestDb::Sqlite { _dir: dir, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres {
            server_url, name, ..
        } = self
        {
            if let Ok(mut conn) = PgConnection::establish(server_url) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Random methods and paths thrown at a server over raw HTTP/1.1, to check that nothing it
/// keeps per request (metrics labels) grows with what clients make up.
pub struct RandomRequests {
    /// Requests sent.
    pub sent: usize,
    /// Responses read back.
    pub answered: usize,
    /// Every random string that went into a method or a path.
    pub tokens: Vec<String>,
}

/// Sends `count` requests to `addr` (`127.0.0.1:port`), 100 pipelined per connection, each
/// with a random 33-character method and either a random path or one of `paths` with a random
/// last segment appended. Stops by itself: every read has a 10 s timeout.
pub fn send_random_requests(addr: &str, paths: &[&str], count: usize) -> RandomRequests {
    use std::io::{Read, Write};

    const PER_CONNECTION: usize = 100;
    let mut out = RandomRequests {
        sent: 0,
        answered: 0,
        tokens: Vec::new(),
    };
    while out.sent < count {
        let batch = PER_CONNECTION.min(count - out.sent);
        let mut request = String::new();
        for i in 0..batch {
            let method = format!("X{}", uuid::Uuid::new_v4().simple()).to_uppercase();
            let segment = uuid::Uuid::new_v4().simple().to_string();
            let path = match paths.get((out.sent + i) % (paths.len() + 1)) {
                Some(known) => format!("{}/{segment}", known.trim_end_matches('/')),
                None => format!("/r{segment}"),
            };
            let connection = if i + 1 == batch {
                "close"
            } else {
                "keep-alive"
            };
            request.push_str(&format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n"
            ));
            out.tokens.push(method);
            out.tokens.push(segment);
        }
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("read timeout");
        stream.write_all(request.as_bytes()).expect("send requests");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        out.answered += text.matches("HTTP/1.1 ").count();
        out.sent += batch;
    }
    out
}
