//! `Browser`: Debian's headless Chromium, driven over WebDriver (fantoccini) through
//! its own `/usr/bin/chromedriver` on a free loopback port, for tests that must see
//! what a person sees: pages rendered, forms filled and submitted, screenshots kept.
//!
//! Each `Browser` is its own chromedriver and Chromium with a fresh profile, so tests
//! run in parallel (nextest runs each in its own process) and share nothing.
//! Screenshots land in `target/browser-screenshots/<test>/<step>.png`.
//!
//! Chromium is a requirement of the suite, not an option: `scripts/test` installs it
//! (`scripts/install-deps --browser`), so a machine without it fails these tests
//! with instructions instead of skipping them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer its status endpoint after starting.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The window a test sees pages in: a laptop screen.
const WINDOW_WIDTH: u32 = 1200;
const WINDOW_HEIGHT: u32 = 900;
/// Screenshots stop at this height, however long the page.
const MAX_SCREENSHOT_HEIGHT: u32 = 5000;

pub struct Browser {
    client: Option<Client>,
    driver: tokio::process::Child,
    screenshots: PathBuf,
    downloads: PathBuf,
    driver_log: PathBuf,
    /// Chromium's profile and chromedriver's log; removed on drop.
    _scratch: tempfile::TempDir,
}

impl Browser {
    /// A fresh headless Chromium for the test `test` (names its screenshot folder).
    pub async fn start(test: &str) -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: browser tests need Debian's chromium and \
                 chromium-driver packages. scripts/test installs them (through \
                 scripts/install-deps --browser); or run \
                 `apt-get install chromium chromium-driver`."
            );
        }
        let scratch = tempfile::Builder::new()
            .prefix("idbridge-browser-")
            .tempdir()
            .expect("temporary directory");
        let profile = scratch.path().join("profile");
        let downloads = scratch.path().join("downloads");
        let driver_log = scratch.path().join("chromedriver.log");
        let port = free_loopback_port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that drop can end Chromium with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let mut browser = Self {
            client: None,
            driver,
            screenshots: screenshot_root().join(test),
            downloads: downloads.clone(),
            driver_log,
            _scratch: scratch,
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        browser.wait_for_driver(&webdriver).await;

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
                // What a person's browser saves (a document it does not display)
                // lands here without a prompt.
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Chromium did not start through chromedriver: {e}\n{}",
                    browser.driver_log_text()
                )
            });
        browser.client = Some(client);
        browser
    }

    async fn wait_for_driver(&mut self, webdriver: &str) {
        let status = format!("{webdriver}/status");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + DRIVER_START;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!(
                    "chromedriver exited at start ({exit})\n{}",
                    self.driver_log_text()
                );
            }
            if let Ok(response) = http.get(&status).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "chromedriver did not answer within {DRIVER_START:?}\n{}",
            self.driver_log_text()
        );
    }

    fn driver_log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.driver_log).unwrap_or_default();
        // The end of the log is where the reason is.
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("chromedriver log (last lines):\n{}", tail.join("\n"))
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session until close")
    }

    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("current URL")
            .to_string()
    }

    pub async fn title(&self) -> String {
        self.client().title().await.expect("title")
    }

    /// The rendered text of the first element matching `css`, as a person reads it.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    /// The DOM property `name` of the first element matching `css` (`value` of a
    /// field, `href` of a link, resolved as the browser resolves it).
    pub async fn property(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .prop(name)
            .await
            .unwrap_or_else(|e| panic!("property {name} of {css}: {e}"))
            .unwrap_or_default()
    }

    /// Types `value` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Sets the field's value at once: for long machine-made values (a SAMLResponse)
    /// that an IdP's page, not a person, puts in a form.
    pub async fn set_value(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        self.client()
            .execute(
                "arguments[0].value = arguments[1];",
                vec![
                    serde_json::to_value(&field).expect("element reference"),
                    json!(value),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("set the value of {css}: {e}"));
    }

    /// Clicks the element matching `css` and, when that starts a navigation, waits for
    /// the new page.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Waits (up to 10 s) for an element matching `css`: after a click, the next
    /// page's content.
    pub async fn wait_for(&self, css: &str) {
        self.client()
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("waiting for {css}: {e}"));
    }

    /// Waits (up to 10 s) until the browser is at `url`: after a click that posts a
    /// form to another page, before reading that page.
    pub async fn wait_for_url(&self, url: &str) {
        let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        self.client()
            .wait()
            .at_most(Duration::from_secs(10))
            .for_url(&url)
            .await
            .unwrap_or_else(|e| panic!("waiting for {url}: {e}"));
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element matches {css}: {e}"))
    }

    /// The contents of the file the browser saved as `file_name` (a download the
    /// last navigation started), waiting up to 10 s for it to complete.
    pub async fn downloaded(&self, file_name: &str) -> String {
        let path = self.downloads.join(file_name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            // Chromium writes `<name>.crdownload` and renames it when done.
            if let Ok(text) = std::fs::read_to_string(&path) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let present: Vec<String> = std::fs::read_dir(&self.downloads)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        panic!("no download {file_name} within 10 s; the folder holds {present:?}");
    }

    /// Saves the whole page (not just the window: the window grows to the page's
    /// height for the picture, then shrinks back) as
    /// `target/browser-screenshots/<test>/<step>.png` and returns the path.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let height = self
            .client()
            .execute(
                "return Math.max(document.documentElement.scrollHeight, \
                 document.body ? document.body.scrollHeight : 0);",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(u64::from(WINDOW_HEIGHT));
        let height = u32::try_from(height)
            .unwrap_or(MAX_SCREENSHOT_HEIGHT)
            .clamp(WINDOW_HEIGHT, MAX_SCREENSHOT_HEIGHT);
        self.client()
            .set_window_size(WINDOW_WIDTH, height)
            .await
            .expect("grow the window");
        let png = self.client().screenshot().await.expect("screenshot");
        self.client()
            .set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
            .await
            .expect("restore the window");
        assert!(png.starts_with(b"\x89PNG"), "a PNG from the browser");
        std::fs::create_dir_all(&self.screenshots).expect("screenshot folder");
        let path = self.screenshots.join(format!("{step}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the session (Chromium quits); drop then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that panicked never reached `close`: end chromedriver and any
        // Chromium it started (same process group) rather than leave them running.
        if let Some(pid) = self.driver.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::SIGKILL,
            );
        }
        let _ = self.driver.start_kill();
    }
}

/// A port nothing listens on right now. chromedriver binds it a moment later; the
/// window for another process to take it is small and a clash fails loudly.
fn free_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `target/browser-screenshots`, in whichever target directory built this test.
fn screenshot_root() -> PathBuf {
    // The test binary is target/<profile>/deps/api-<hash>.
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("browser-screenshots"))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots")
        })
}
