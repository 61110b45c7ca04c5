//! scim2-tester, a third-party SCIM compliance checker (PyPI, github.com/python-scim),
//! against the live server: discovery, CRUD, every PATCH operation on every
//! attribute, projection, search. It must pass clean; docs/idp-setup.md explains its skips.
//!
//! `scripts/test` installs it (pinned in tests/scim2-tester/requirements.txt) into a
//! virtual environment and sets IDBRIDGE_SCIM2_TESTER_PYTHON to its interpreter.

use crate::helpers::TestApp;
use idbridge_testkit::both_backends;

const PYTHON_VAR: &str = "IDBRIDGE_SCIM2_TESTER_PYTHON";

both_backends! {
    async fn scim2_tester_passes_clean(db: TestDb) {
        let python = std::env::var(PYTHON_VAR).unwrap_or_else(|_| {
            panic!("{PYTHON_VAR} is not set: run scripts/test, which installs scim2-tester and sets it")
        });
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("compliance").await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/scim2-tester/run.py");
        let output = tokio::process::Command::new(python)
            .arg(script)
            .arg(app.url("/scim/v2/compliance"))
            .arg(&scim.token)
            .output()
            .await
            .expect("run scim2-tester");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "scim2-tester failed:\n{stdout}\n{stderr}");
        let summary = stdout.lines().last().unwrap_or_default();
        assert!(summary.ends_with(" 0 failed"), "{summary}");
        // The only skips are the root-level /.search, which idbridge answers 501.
        let skipped: Vec<&str> = stdout.lines().filter(|l| l.starts_with("SKIPPED")).collect();
        assert!(skipped.iter().all(|l| l.contains("/.search")), "unexpected skips: {skipped:#?}");
    }
}
