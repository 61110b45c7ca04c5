//! A browser's view of server-rendered pages without a browser: cookies kept
//! between requests, and the CSRF token of the last page sent back with each form,
//! with the page's own `Origin`. For the console and the setup portal.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::helpers::TestApp;

pub struct FormClient<'a> {
    pub app: &'a TestApp,
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    pub csrf: String,
}

/// What a page answered.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.header(header::LOCATION.as_str())
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    /// The value of the first hidden `csrf_token` field.
    pub fn csrf_field(&self) -> Option<String> {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

impl<'a> FormClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: app.browser(),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps (or, for an empty value or `Max-Age=0`, forgets) every cookie the page
    /// set, and its CSRF token if it has a form.
    pub fn remember(&mut self, page: &Page) {
        for cookie in page.set_cookies() {
            let pair = cookie.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = page.csrf_field() {
            self.csrf = token;
        }
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("send");
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        };
        self.remember(&page);
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.app.url(path));
        self.send(request).await
    }

    /// A form post as the page itself sends it: same Origin, the CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form, Some(&self.app.base.clone()))
            .await
    }

    /// A form post whose answer is a redirect (post/redirect/get), and the page it
    /// leads to, as a browser follows it.
    pub async fn post_and_follow(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let posted = self.post(path, fields).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        let location = posted.location().to_owned();
        self.get(&location).await
    }

    pub async fn post_raw(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut request = self.http.post(self.app.url(path)).form(form);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request).await
    }
}
