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

/// The body of `GET {path}` on `addr` (`127.0.0.1:port`), over a plain connection that the
/// request closes. Panics unless the answer is 200.
fn get_body(addr: &str, path: &str) -> String {
    let (head, body) = get_with_head(addr, path, &[]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body
}

/// Asserts that thousands of random methods and paths sent to the service at `addr` leave its
/// `/metrics` the same size: every label comes from a closed set.
/// `paths` are some of the service's real paths, so that matched routes are flooded too.
/// Blocking: run it off the thread that serves the service.
pub fn assert_metrics_stay_bounded_under_random_requests(addr: &str, paths: &[&str]) {
    // One request of each shape first, so that the series the flood may add exist already;
    // `/metrics` twice, since the first read creates its own series.
    send_random_requests(addr, paths, 8);
    get_body(addr, "/metrics");
    let before = get_body(addr, "/metrics").len();

    let flood = send_random_requests(addr, paths, 3000);
    assert_eq!(flood.answered, flood.sent, "every request was answered");

    let after = get_body(addr, "/metrics");
    assert!(
        after.len() <= before + 4096,
        "/metrics grew from {before} to {} bytes",
        after.len()
    );
    assert!(after.len() < 64 * 1024, "{} bytes", after.len());
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(after.contains(r#"route="unmatched""#), "{after}");
    for token in &flood.tokens {
        assert!(!after.contains(token.as_str()), "{token} became a label");
    }
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

fn run_service(
    bin: &str,
    args: &[&str],
    dir: &std::path::Path,
    bind_var: &str,
    vars: &[(&str, &str)],
) -> (bool, String) {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(args).current_dir(dir);
    for var in [bind_var, "DATABASE_URL", "AUTH_ISSUER", "METRICS_BIND"] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the service binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that the service binary `bin` (run with `args`) reads `./.env` but never a parent
/// directory's, and that a malformed `.env` stops it with one line naming the file and none of
/// its content. `bind_var` is the service's listen-address variable. Every run fails at
/// configuration, before anything is bound.
pub fn assert_dotenv_is_read_from_the_working_directory_only(
    bin: &str,
    args: &[&str],
    bind_var: &str,
) {
    let root = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        root.path().join(".env"),
        format!("{bind_var}=parent-dotenv-was-read\n"),
    )
    .expect("write .env");
    let child = root.path().join("child");
    std::fs::create_dir(&child).expect("create a subdirectory");
    let bad_db = [("DATABASE_URL", "mysql://x/y")];

    // In the directory itself the file is read (so the next check means something) ...
    let (ok, stderr) = run_service(bin, args, root.path(), bind_var, &bad_db);
    assert!(!ok && stderr.contains(bind_var), "{stderr}");
    // ... but never from a subdirectory: configuration stops at DATABASE_URL instead.
    let (ok, stderr) = run_service(bin, args, &child, bind_var, &bad_db);
    assert!(!ok && stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains(bind_var), "{stderr}");

    // A malformed file is one line naming it, without its content.
    std::fs::write(
        child.join(".env"),
        format!("DB_PASSWORD=\"Sup3rSecretPw\n{bind_var}='unterminated\n"),
    )
    .expect("write .env");
    let (ok, stderr) = run_service(bin, args, &child, bind_var, &[]);
    assert!(!ok && stderr.contains(".env"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("Sup3r"), "{stderr}");
}

/// Every piece of `password` a log could carry: the whole, each `/`-separated part, and every
/// six-character window.
fn password_pieces(password: &str) -> Vec<String> {
    let chars: Vec<char> = password.chars().collect();
    let mut out: Vec<String> = chars.windows(6).map(|w| w.iter().collect()).collect();
    out.push(password.to_owned());
    out.extend(
        password
            .split('/')
            .filter(|p| p.len() >= 4)
            .map(str::to_owned),
    );
    out
}

/// Asserts that the service binary `bin` (run with `args` and `env`), pointed at a PostgreSQL URL
/// whose server does not answer, exits non-zero naming `DATABASE_URL` at `RUST_LOG=debug` with
/// no piece of the password in its output — also for a password holding `/`, which makes libpq
/// read the URL differently and quote a piece of it.
pub fn assert_no_database_password_in_the_log(
    bin: &str,
    args: &[&str],
    bind_var: &str,
    env: &[(&str, &str)],
) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // The listener is dropped: nothing answers on `closed`.
    let runs: Vec<_> = ["Sup3rSecretPw", "Sup3r/SecretPw"]
        .into_iter()
        .map(|password| {
            let child = std::process::Command::new(bin)
                .args(args)
                .envs(env.iter().copied())
                .env(
                    "DATABASE_URL",
                    format!("postgres://user:{password}@127.0.0.1:{closed}/x"),
                )
                .env(bind_var, "127.0.0.1:0")
                .env("RUST_LOG", "debug")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start the service binary");
            (password, child)
        })
        .collect();
    for (password, child) in runs {
        let out = child.wait_with_output().expect("service output");
        assert!(!out.status.success());
        let logs = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(logs.contains("DATABASE_URL"), "{logs}");
        for piece in password_pieces(password) {
            assert!(!logs.contains(&piece), "`{piece}` reached the log: {logs}");
        }
    }
}

/// A service binary started for a test on a free port, killed when stopped or dropped.
pub struct RunningService {
    child: Option<std::process::Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl RunningService {
    /// Starts `bin` with `args` and `env`, listening on a free port named by `bind_var`, with
    /// its stderr kept; waits (up to 20 s) until it accepts connections.
    pub fn start(bin: &str, args: &[&str], bind_var: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(bin)
            .args(args)
            .env_remove("METRICS_BIND")
            .envs(env.iter().copied())
            .env(bind_var, &addr)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the service binary");
        let mut service = RunningService {
            child: Some(child),
            addr,
        };
        for _ in 0..400 {
            if std::net::TcpStream::connect(&service.addr).is_ok() {
                return service;
            }
            if let Some(Ok(Some(status))) = service.child.as_mut().map(|c| c.try_wait()) {
                panic!("the service exited ({status}): {}", service.stop());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the service did not come up: {}", service.stop());
    }

    /// Sends `GET {path}` with the extra `headers` (`Name: value` lines) and returns the
    /// response head and body.
    pub fn get(&self, path: &str, headers: &[&str]) -> (String, String) {
        get_with_head(&self.addr, path, headers)
    }

    /// Kills the service and returns everything it wrote to stderr.
    pub fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return String::new();
        };
        let _ = child.kill();
        let out = child.wait_with_output().expect("service output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of header `name` (lower case) in a response head.
fn header_of<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The access line (target `access`) of the request whose id is `request_id`, among JSON lines.
fn access_line<'a>(lines: &'a [serde_json::Value], request_id: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["target"] == "access" && l["span"]["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no access line for {request_id}: {lines:#?}"))
}

/// Asserts that the service binary `bin` (run with `args` and `env`, on a free port named by
/// `bind_var`) with `LOG_FORMAT=json` writes only JSON objects, one a line, with RFC 3339 UTC
/// timestamps, and that the access line of a request carries its request id (taken from
/// `X-Request-Id`, echoed) and the trace id of a valid `traceparent`; an invalid
/// `traceparent` starts a new trace instead. With `TRUSTED_PROXIES=127.0.0.1` (the test
/// client plays the balancer) the line's `client` is the `X-Forwarded-For` client, and the
/// peer when the request has none.
pub fn assert_json_logs_carry_request_and_trace_ids(
    bin: &str,
    args: &[&str],
    bind_var: &str,
    env: &[(&str, &str)],
) {
    let mut vars = env.to_vec();
    vars.extend([
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    let mut service = RunningService::start(bin, args, bind_var, &vars);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let (head, _) = service.get(
        "/healthz?probe=1",
        &[
            "X-Request-Id: json-log-1",
            &format!("traceparent: 00-{trace_id}-00f067aa0ba902b7-01"),
            "X-Forwarded-For: 192.0.2.1, 203.0.113.9",
        ],
    );
    assert_eq!(
        header_of(&head, "x-request-id"),
        Some("json-log-1"),
        "{head}"
    );
    // Upper-case hex is invalid: ignored, and the request starts a trace of its own.
    let bad_trace = "4BF92F3577B34DA6A3CE929D0E0E4736";
    let (head, _) = service.get(
        "/no/such/path",
        &[
            "X-Request-Id: json-log-2",
            &format!("traceparent: 00-{bad_trace}-00f067aa0ba902b7-01"),
        ],
    );
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert_eq!(
        header_of(&head, "x-request-id"),
        Some("json-log-2"),
        "{head}"
    );
    let logs = service.stop();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            let ts = v["timestamp"].as_str().unwrap_or_else(|| panic!("{l}"));
            let parsed = chrono::DateTime::parse_from_rfc3339(ts)
                .unwrap_or_else(|e| panic!("timestamp {ts}: {e}"));
            assert!(
                ts.ends_with('Z') && parsed.offset().local_minus_utc() == 0,
                "{ts}"
            );
            v
        })
        .collect();
    let first = access_line(&lines, "json-log-1");
    assert_eq!(first["span"]["trace_id"], trace_id, "{first}");
    let message = first["message"].as_str().unwrap_or_default();
    assert_eq!(message, "GET /healthz 200", "no query string: {first}");
    assert_eq!(first["client"], "203.0.113.9", "{first}");
    let second = access_line(&lines, "json-log-2");
    let new_trace = second["span"]["trace_id"].as_str().unwrap_or_default();
    assert_eq!(new_trace.len(), 32, "{second}");
    assert_ne!(new_trace, trace_id);
    assert_ne!(new_trace, bad_trace.to_ascii_lowercase());
    assert_eq!(second["client"], "127.0.0.1", "{second}");
}

/// Asserts `/metrics` of `service` at `addr`: the process metrics (resident memory, CPU time,
/// open file descriptors, start time) with plausible values, and
/// `caseforge_build_info{service,version} 1`.
pub fn assert_process_and_build_info_metrics(addr: &str, service: &str, version: &str) {
    let text = get_body(addr, "/metrics");
    let value = |family: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(family)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {family}: {text}"))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{family}: {e}"))
    };
    assert!(
        value("process_resident_memory_bytes") > 1_000_000.0,
        "{text}"
    );
    assert!(value("process_open_fds") >= 3.0, "{text}");
    assert!(value("process_cpu_seconds_total") >= 0.0, "{text}");
    let started = value("process_start_time_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(
        started > now - 3600.0 && started <= now + 1.0,
        "{started} vs {now}"
    );
    let build = format!("caseforge_build_info{{service=\"{service}\",version=\"{version}\"}} 1");
    assert!(text.lines().any(|l| l == build), "{build}: {text}");
}

/// Runs `bin` with `args` and `vars` (the database and bind variables cleared first, and the
/// working directory a fresh one, so that no `.env` is read) and returns its exit code and
/// stderr. For configuration checks: the run is expected to stop before serving.
pub fn config_outcome(bin: &str, args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(args).current_dir(dir.path());
    for var in [
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "AUTH_ISSUER",
        "METRICS_BIND",
        "LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied());
    let out = cmd.output().expect("run the service binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that `bin` given every one of the `bad` variables at once reports each of them,
/// one line each naming it, and exits with status 2 (as clap does for usage errors).
pub fn assert_every_bad_variable_is_reported(bin: &str, args: &[&str], bad: &[(&str, &str)]) {
    let (code, stderr) = config_outcome(bin, args, bad);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.trim().lines().collect();
    assert_eq!(lines.len(), bad.len(), "{stderr}");
    for ((var, _), line) in bad.iter().zip(&lines) {
        assert!(
            line.contains(var),
            "{var} is not named in `{line}`: {stderr}"
        );
    }
}

/// Asserts the `*_FILE` rules for the secret `var` of `bin`: setting both `var` and
/// `var_FILE` is refused (status 2, one line naming both, the value not shown), and an
/// unreadable file is refused naming the variable and the path. `value` is a valid value.
pub fn assert_secret_file_rules(bin: &str, args: &[&str], var: &str, value: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{value}\n")).expect("write the secret file");
    let file_var = format!("{var}_FILE");
    let path = file.to_str().expect("a UTF-8 path");
    let (code, stderr) = config_outcome(bin, args, &[(var, value), (&file_var, path)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&file_var) && stderr.contains(&format!("{var} ")),
        "{stderr}"
    );
    assert!(!stderr.contains(value), "{stderr}");

    let missing = dir.path().join("no-such-file");
    let missing = missing.to_str().expect("a UTF-8 path");
    let (code, stderr) = config_outcome(bin, args, &[(&file_var, missing)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&file_var) && stderr.contains(missing),
        "{stderr}"
    );
}

/// Asserts that `/docs` on the service at `addr` (`127.0.0.1:port`) is an HTML page that loads
/// only assets this service serves: every `src`/`href` is relative and answers 200 here with
/// a script or stylesheet content type, no `http(s)://` URL appears in the page, and the page
/// carries a Content-Security-Policy that allows nothing but `'self'` (and `data:` images).
/// Blocking: run it off the thread that serves the service.
pub fn assert_docs_are_self_contained(addr: &str) {
    assert_docs_are_self_contained_but_may_call(addr, &[]);
}

/// As [`assert_docs_are_self_contained`], except that the page may send requests
/// (`connect-src`) to `connect_to` (origins) as well as to itself.
pub fn assert_docs_are_self_contained_but_may_call(addr: &str, connect_to: &[&str]) {
    let (head, page) = get_with_head(addr, "/docs", &[]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let header = |head: &str, name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    assert!(
        header(&head, "content-type").starts_with("text/html"),
        "{head}"
    );
    let csp = header(&head, "content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    for directive in csp.split(';') {
        let mut words = directive.split_whitespace();
        let name = words.next().unwrap_or_default();
        for source in words {
            assert!(
                ["'self'", "'none'", "data:"].contains(&source)
                    || (name == "connect-src" && connect_to.contains(&source)),
                "the CSP allows `{source}` in {name}: {csp}"
            );
        }
    }
    for origin in connect_to {
        assert!(
            csp.split(';')
                .any(|d| d.trim().starts_with("connect-src") && d.contains(origin)),
            "connect-src names {origin}: {csp}"
        );
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .zip(page.split(['"', '\'']).skip(1))
        .filter(|(before, _)| before.ends_with("src=") || before.ends_with("href="))
        .map(|(_, url)| url)
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{assets:?}"
    );
    for asset in assets {
        assert!(!asset.starts_with('/') && !asset.contains(':'), "{asset}");
        let (head, body) = get_with_head(addr, &format!("/{asset}"), &[]);
        assert!(head.starts_with("HTTP/1.1 200"), "{asset}: {head}");
        let content_type = header(&head, "content-type");
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        assert!(!body.is_empty(), "{asset} is empty");
    }
}

/// `GET {path}` on `addr` with the extra `headers` (`Name: value` lines), over a connection the
/// request closes: (status line and headers, body).
fn get_with_head(addr: &str, path: &str, headers: &[&str]) -> (String, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("read timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.to_owned(), body.to_owned())
}
