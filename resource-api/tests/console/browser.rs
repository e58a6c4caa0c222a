//! A real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`): start `chromedriver` on a free port, open a session with a fresh profile,
//! and save a screenshot of each step under `target/console-screenshots/`.
//!
//! Without `chromedriver` (or `TEST_CHROMEDRIVER`) the tests print why and pass, except under
//! CI (`CI` set), where a missing browser fails: `.ci/run` installs it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    step: usize,
}

fn binary(var: &str, default: &str) -> Option<String> {
    let bin = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then_some(bin)
}

impl Browser {
    /// `None` (with the reason printed) when no browser is installed outside CI.
    pub async fn start(name: &str) -> Option<Browser> {
        let (Some(driver_bin), Some(chromium)) = (
            binary("TEST_CHROMEDRIVER", "chromedriver"),
            binary("TEST_CHROMIUM", "chromium"),
        ) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs chromium and chromedriver (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no chromium/chromedriver on PATH; .ci/run installs them");
            return None;
        };
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("bound").port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        // Headless, as root (no sandbox), and nothing that reaches out to the network: this
        // machine has none, and background connections only slow the browser down.
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": which(&chromium), "args": args}),
        );
        // chromedriver speaks plain HTTP on loopback: no TLS stack for the WebDriver client.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/console-screenshots")
            .join(name);
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Some(Browser {
            client,
            driver,
            _profile: profile,
            shots,
            step: 0,
        })
    }

    /// Saves the page as `NN-label.png` and returns its path.
    pub async fn shot(&mut self, label: &str) -> PathBuf {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{:02}-{label}.png", self.step));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// The path of the page shown now.
    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("a current URL")
            .path()
            .to_owned()
    }

    /// Waits (at most 10 s) until the page's path is `path`.
    pub async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            if Instant::now() >= deadline {
                panic!("still at {now}, not {path}: {}", self.summary().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most 10 s) for the page's `<h1>` to read `heading`: a submitted form's
    /// answer has loaded.
    pub async fn wait_heading(&self, heading: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self
                .eval("const h = document.querySelector('h1'); return h ? h.textContent : ''")
                .await;
            if now.as_str() == Some(heading) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page's heading is {now}, not {heading:?}: {}",
                self.summary().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's heading and alerts, for a failure message.
    pub async fn summary(&self) -> String {
        let v = self
            .eval(
                "return [...document.querySelectorAll('h1, [role=alert], [role=status]')]\
                 .map(e => e.textContent.trim()).join(' | ')",
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the first element matching `selector` (waiting for it).
    pub async fn text(&self, selector: &str) -> String {
        self.css(selector).await.text().await.expect("element text")
    }

    /// Types `text` into the element matching `selector`.
    pub async fn fill(&self, selector: &str, text: &str) {
        self.css(selector)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {selector}: {e}"));
    }

    pub async fn click(&self, selector: &str) {
        self.css(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {selector}: {e}"));
    }

    /// The whole document as the server sent it and the page now holds it.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    pub async fn quit(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser's absolute path, as chromedriver wants it.
fn which(bin: &str) -> String {
    if bin.contains('/') {
        return bin.to_owned();
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(bin))
                .find(|p| p.is_file())
        })
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| bin.to_owned())
}
