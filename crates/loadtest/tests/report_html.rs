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
    let (_code, _r, dir) = common::run(scenario, &url, &["--scale", "0.5"]).await;
    let html_path = dir.path().join("out/report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        !html.contains("http://") || !html.contains("<script src"),
        "report must not load anything"
    );
    assert!(html.contains("data-panel=\"languages\""));
    assert!(
        html.contains("scale 0.5: not a plan-size result"),
        "no scale banner"
    );
    assert!(
        html.contains("not seen: Error rate over 20 %"),
        "indicator wording"
    );
    assert!(
        html.contains("https://github.com/leeoniya/uPlot (v1.6.32)"),
        "uPlot embedded"
    );
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
    // Each panel is a uPlot chart: a canvas, and a legend naming its series
    // (the legend's colours are the series' own).
    let panel_html = |panel: &str| {
        let start = dom
            .find(&format!("data-panel=\"{panel}\""))
            .unwrap_or_else(|| panic!("panel {panel} missing"));
        let end = dom[start..]
            .find("class=\"panel\"")
            .map_or(dom.len(), |e| start + e);
        dom[start..end].to_string()
    };
    for (panel, names) in [
        ("rate", &["target", "sent", "completed"][..]),
        ("latency", &["P50", "P90", "P95", "P99"][..]),
        ("errors", &["errors %", "not successful %"][..]),
        ("queue", &["queue depth"][..]),
        ("workers", &["utilisation %", "busy workers", "workers"][..]),
        ("languages", &["requests", "successful"][..]),
    ] {
        let html = panel_html(panel);
        assert!(
            html.contains("<canvas"),
            "panel {panel} has no canvas: {html}"
        );
        assert!(
            !html.contains("data-drawn=\"0\""),
            "panel {panel} drew nothing"
        );
        for n in names {
            assert!(
                html.contains(&format!(">{n}<")),
                "panel {panel}: no legend entry {n}: {html}"
            );
        }
    }
    // Worker counts have their own scale (the right axis), apart from the 0–100 % one.
    for series in ["busy workers", "workers"] {
        let at = html.find(&format!("\"name\":\"{series}\"")).expect(series);
        let rest = &html[at..at + html[at..].find('}').unwrap()];
        assert!(rest.contains("\"scale\":\"count\""), "{series}: {rest}");
    }
}
