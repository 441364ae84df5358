//! `report.html` renders its six panels in a real headless Chromium (Debian
//! package `chromium`), offline.

mod common;

use std::process::Command;
use std::time::Duration;

use kiln_loadtest::stub::StubConfig;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_html_draws_every_panel_in_headless_chromium() {
    let url = common::stub_url(StubConfig {
        delay: Duration::from_millis(5),
        workers: 4,
        ..Default::default()
    })
    .await;
    let scenario = "name = \"render\"\n[load]\nlate_threshold = \"200ms\"\n[[load.stages]]\nduration = \"3s\"\nrate = 20\n\
        [languages]\npython = 1\ncpp = 1\njava = 1\n[[criteria]]\nmetric = \"p95_latency_s\"\nop = \"<\"\ntarget = 1\n";
    let (_code, _r, dir) = common::run(scenario, &url, &[]).await;
    let html_path = dir.path().join("out/report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains("http://") || !html.contains("<script src"),
        "report must not load anything"
    );
    assert!(html.contains("data-panel=\"languages\""));
    let Some(bin) = chromium() else {
        eprintln!("\n!!!!!!!! SKIPPED: chromium is not installed (apt-get install -y chromium); report.html was NOT rendered !!!!!!!!\n");
        return;
    };
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--dump-dom",
        ])
        .arg(format!("file://{}", html_path.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-charts-drawn=\"6\""),
        "charts not drawn; chromium said: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each panel is its own <svg>; check the drawn ones have real marks.
    for (panel, mark) in [
        ("rate", "<path"),
        ("latency", "<path"),
        ("errors", "<path"),
        ("queue", "<path"),
        ("workers", "<path"),
        ("languages", "data-bar"),
    ] {
        let start = dom
            .find(&format!("data-panel=\"{panel}\""))
            .unwrap_or_else(|| panic!("panel {panel} missing"));
        let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
        assert!(svg.contains(mark), "panel {panel} has no {mark}: {svg}");
        assert!(
            !svg.contains("data-drawn=\"0\""),
            "panel {panel} drew nothing"
        );
    }
}
