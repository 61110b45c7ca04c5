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
//! with instructions instead of skipping them. So is axe-core, the accessibility
//! engine [`Browser::check_accessibility`] injects into a page: pinned in
//! `tests/axe/package-lock.json`, installed by `scripts/test` (`npm ci --prefix
//! tests/axe`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer its status endpoint after starting.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The window a test sees pages in: a laptop screen.
pub const WINDOW_WIDTH: u32 = 1200;
pub const WINDOW_HEIGHT: u32 = 900;
/// Screenshots stop at this height, however long the page.
const MAX_SCREENSHOT_HEIGHT: u32 = 5000;
/// A phone held upright (an iPhone 12 to 15's CSS width).
pub const PHONE_WIDTH: u32 = 390;
pub const PHONE_HEIGHT: u32 = 844;

/// What axe checks a page against: WCAG 2.0 and 2.1, levels A and AA, and axe's
/// best practices.
const AXE_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
/// Violations of these impacts fail a test; `moderate` and `minor` ones are in the
/// result file only.
const AXE_FAILING_IMPACTS: [&str; 2] = ["serious", "critical"];
/// How many offending elements of each violation a failure lists.
const AXE_NODES_SHOWN: usize = 3;

pub struct Browser {
    client: Option<Client>,
    driver: tokio::process::Child,
    screenshots: PathBuf,
    downloads: PathBuf,
    /// The window's size now: [`Self::set_window_size`] changes it, screenshots
    /// keep its width.
    window: (u32, u32),
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
            window: (WINDOW_WIDTH, WINDOW_HEIGHT),
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

    /// Runs `script` (a function body: `return …` gives its value) in the page.
    pub async fn run_script(&self, script: &str) -> serde_json::Value {
        self.client()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// Whether the first element matching `css` is shown (not hidden, not in a
    /// closed `<details>`).
    pub async fn is_displayed(&self, css: &str) -> bool {
        self.find(css)
            .await
            .is_displayed()
            .await
            .unwrap_or_else(|e| panic!("is {css} displayed: {e}"))
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
        let (width, window_height) = self.window;
        let height = u32::try_from(height)
            .unwrap_or(MAX_SCREENSHOT_HEIGHT)
            .clamp(window_height, MAX_SCREENSHOT_HEIGHT);
        self.client()
            .set_window_size(width, height)
            .await
            .expect("grow the window");
        let png = self.client().screenshot().await.expect("screenshot");
        self.client()
            .set_window_size(width, window_height)
            .await
            .expect("restore the window");
        assert!(png.starts_with(b"\x89PNG"), "a PNG from the browser");
        std::fs::create_dir_all(&self.screenshots).expect("screenshot folder");
        let path = self.screenshots.join(format!("{step}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Resizes the window (for a phone's width: [`PHONE_WIDTH`]); pages are laid
    /// out again at once, and screenshots keep the new width.
    pub async fn set_window_size(&mut self, width: u32, height: u32) {
        self.client()
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize the window to {width}x{height}: {e}"));
        self.window = (width, height);
    }

    /// The width pages are laid out at now (`window.innerWidth`, CSS pixels).
    pub async fn viewport_width(&self) -> u64 {
        self.client()
            .execute("return window.innerWidth;", vec![])
            .await
            .expect("innerWidth")
            .as_u64()
            .expect("a number")
    }

    /// What makes the page wider than the window (WCAG 1.4.10, reflow: at a
    /// phone's width nothing but a table in its own scrolling region may need
    /// sideways scrolling): the innermost elements that stick out past the right
    /// edge and are not inside a scrolling box, as `tag#id.class (right edge)`.
    /// Empty when the page fits.
    pub async fn sideways_overflow(&self) -> Vec<String> {
        let found = self
            .run_script(
                "const w = document.documentElement.clientWidth;\n\
                 if (document.documentElement.scrollWidth <= w) return [];\n\
                 const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {\n\
                   if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };\n\
                 const out = [];\n\
                 for (const e of document.body.querySelectorAll('*')) {\n\
                   const r = e.getBoundingClientRect();\n\
                   if (r.right <= w + 1 || r.width === 0 || clipped(e)) continue;\n\
                   const inner = Array.from(e.children).some(c => c.getBoundingClientRect().right > w + 1);\n\
                   if (inner) continue;\n\
                   out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +\n\
                     (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +\n\
                     ' \"' + (e.textContent || e.value || '').trim().slice(0, 40) + '\"' +\n\
                     ' (right edge ' + Math.round(r.right) + ' px of ' + w + ')');\n\
                 }\n\
                 return out.length ? out.slice(0, 6) : ['the page is ' + document.documentElement.scrollWidth + ' px wide'];",
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Presses `keys` together, as a person does on a keyboard, into whatever has
    /// the focus: all but the last are held while the last is pressed (`[Key::Shift,
    /// Key::Tab]` is Shift+Tab, `[Key::Control, 'v']` pastes). WebDriver key
    /// actions: no element is clicked or scripted.
    pub async fn press(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".into());
        for &key in keys {
            actions = actions.then(KeyAction::Down { value: key });
        }
        for &key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up { value: key });
        }
        self.client()
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("pressing {keys:?}: {e}"));
    }

    /// Types `text` key by key into whatever has the focus.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for key in text.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client()
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("typing {text:?}: {e}"));
    }

    /// What has the keyboard focus now, and whether a person can see where it is.
    pub async fn focus(&self) -> Focus {
        let found = self
            .run_script(
                "const e = document.activeElement;\n\
                 if (!e || e === document.body || e === document.documentElement) return null;\n\
                 const s = getComputedStyle(e);\n\
                 const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;\n\
                 const shadow = s.boxShadow !== '' && s.boxShadow !== 'none';\n\
                 const r = e.getBoundingClientRect();\n\
                 const text = (e.getAttribute('aria-label') || e.textContent || e.value || '').replace(/\\s+/g, ' ').trim().slice(0, 50);\n\
                 return {\n\
                   element: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +\n\
                     (e.getAttribute('type') ? '[type=' + e.getAttribute('type') + ']' : '') + ' \"' + text + '\"',\n\
                   indicator: outline ? 'outline ' + s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor\n\
                     : shadow ? 'box-shadow ' + s.boxShadow : '',\n\
                   on_screen: r.width > 0 && r.height > 0 && e.checkVisibility(),\n\
                 };",
            )
            .await;
        if found.is_null() {
            return Focus {
                element: NO_ELEMENT.into(),
                indicator: String::new(),
                on_screen: false,
            };
        }
        Focus {
            element: found["element"].as_str().unwrap_or_default().to_owned(),
            indicator: found["indicator"].as_str().unwrap_or_default().to_owned(),
            on_screen: found["on_screen"].as_bool().unwrap_or_default(),
        }
    }

    /// Whether the focused element matches `css`.
    pub async fn focus_matches(&self, css: &str) -> bool {
        self.client()
            .execute(
                "const e = document.activeElement; return !!e && e.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .unwrap_or_else(|e| panic!("does the focus match {css}: {e}"))
            .as_bool()
            .unwrap_or_default()
    }

    /// The role the browser gives the first element matching `css` in its
    /// accessibility tree (what a screen reader is told), through WebDriver's Get
    /// Computed Role.
    pub async fn computed_role(&self, css: &str) -> String {
        let element = self.find(css).await;
        let role = self
            .client()
            .issue_cmd(ComputedRole(element.element_id().to_string()))
            .await
            .unwrap_or_else(|e| panic!("computed role of {css}: {e}"));
        role.as_str().unwrap_or_default().to_owned()
    }

    /// Runs axe-core on the page as it is now (WCAG 2.0/2.1 A and AA and best
    /// practices) and fails the test listing each `serious` or `critical`
    /// violation: its rule, what it asks for, and the first elements that break
    /// it. The whole result is saved as
    /// `target/browser-screenshots/<test>/<step>.axe.json`, next to the screenshots.
    pub async fn check_accessibility(&self, step: &str) {
        let failing = self.accessibility_violations(step).await;
        assert!(failing.is_empty(), "{}", failing.join("\n"));
    }

    /// What [`Self::check_accessibility`] would fail with, as text (empty: nothing
    /// serious or critical), for a test that checks many pages and reports them all.
    pub async fn accessibility_violations(&self, step: &str) -> Vec<String> {
        let url = self.current_url().await;
        self.client()
            .execute(axe_source(), vec![])
            .await
            .unwrap_or_else(|e| panic!("{step}: injecting axe-core into {url}: {e}"));
        let raw = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];\n\
                 axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})\n\
                   .then(r => done(JSON.stringify(r)), e => done(JSON.stringify({error: String(e)})));",
                vec![json!(AXE_TAGS)],
            )
            .await
            .unwrap_or_else(|e| panic!("{step}: running axe-core on {url}: {e}"));
        let raw = raw.as_str().expect("axe's result as JSON text");
        let result: serde_json::Value = serde_json::from_str(raw).expect("axe's result");
        if let Some(error) = result.get("error") {
            panic!("{step}: axe-core failed on {url}: {error}");
        }
        std::fs::create_dir_all(&self.screenshots).expect("screenshot folder");
        let path = self.screenshots.join(format!("{step}.axe.json"));
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&result).expect("serialise"),
        )
        .expect("write axe's result");
        let violations = result["violations"].as_array().cloned().unwrap_or_default();
        let failing: Vec<String> = violations
            .iter()
            .filter(|v| AXE_FAILING_IMPACTS.contains(&v["impact"].as_str().unwrap_or_default()))
            .map(describe_violation)
            .collect();
        if failing.is_empty() {
            return failing;
        }
        let mut report = vec![format!(
            "{step}: axe-core found {} serious or critical accessibility violation(s) on \
             {url} (all results: {}):",
            failing.len(),
            path.display(),
        )];
        report.extend(failing);
        report
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

/// [`Focus::element`] when no element of the page has the focus (it is on the
/// page itself, or in the browser's own controls).
pub const NO_ELEMENT: &str = "no element (the page itself)";

/// The keyboard focus, as [`Browser::focus`] finds it.
#[derive(Debug, Clone)]
pub struct Focus {
    /// `tag#id[type=…] "its text"`.
    pub element: String,
    /// What draws the focus (an outline or a box shadow, as computed); empty when
    /// nothing does.
    pub indicator: String,
    /// The element has a box on the page (not hidden, not zero-sized).
    pub on_screen: bool,
}

impl Focus {
    /// A person can see where the focus is: the element is on the page and an
    /// outline or a box shadow marks it.
    pub fn is_visible(&self) -> bool {
        self.on_screen && !self.indicator.is_empty()
    }
}

/// WebDriver's Get Computed Role, which fantoccini does not wrap.
#[derive(Debug)]
struct ComputedRole(String);

impl fantoccini::wd::WebDriverCompatibleCommand for ComputedRole {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!(
            "session/{session}/element/{}/computedrole",
            self.0
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// One axe violation as a failing test lists it: impact, rule, what it asks for,
/// where it is explained, and the first few elements that break it.
fn describe_violation(violation: &serde_json::Value) -> String {
    let nodes = violation["nodes"].as_array().cloned().unwrap_or_default();
    let mut text = format!(
        "- [{}] {}: {} ({}), {} element(s)",
        violation["impact"].as_str().unwrap_or("?"),
        violation["id"].as_str().unwrap_or("?"),
        violation["help"].as_str().unwrap_or_default(),
        violation["helpUrl"].as_str().unwrap_or_default(),
        nodes.len(),
    );
    for node in nodes.iter().take(AXE_NODES_SHOWN) {
        let html: String = node["html"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let summary = node["failureSummary"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', " ");
        text.push_str(&format!(
            "\n    at {}: {html}\n      {summary}",
            node["target"]
        ));
    }
    text
}

/// axe-core's browser bundle, read once from `tests/axe/node_modules`.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let axe_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/axe");
        let path = axe_dir.join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}): the accessibility checks need axe-core, pinned in \
                 tests/axe/package-lock.json. scripts/test installs it; or run \
                 `npm ci --prefix tests/axe`.",
                path.display()
            )
        })
    })
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
