//! The run step: the program once per test (or once, or interactively),
//! each run judged, all sharing what the compile output left of the
//! submission's output budget.

use bytes::Bytes;
use kiln_lang::{ExpandContext, Language};
use kiln_sandbox::{ExecSpec, Input, LimitHit, Output, SandboxBox};
use tokio::sync::mpsc;

use crate::compile::{compile_units, exec_limits};
use crate::judge::run_report;
use crate::types::{Report, RunReport, Status, Submission};

/// Output chunks of an interactive run.
pub type StreamEvent = Output;

/// Runs the program once per test (or once), judging each, with what is
/// left of the output budget after `used`.
pub(crate) async fn run_tests(
    b: &SandboxBox,
    lang: &Language,
    sub: &Submission,
    env: Vec<String>,
    mut used: u64,
    stream: Option<(mpsc::Receiver<Bytes>, mpsc::Sender<StreamEvent>)>,
) -> Report {
    let budget = sub.limits.output_bytes;
    let names = compile_units(lang, sub);
    let run_argv = lang.run_argv(&ExpandContext {
        files: &names,
        memory_mb: sub.limits.memory_kb / 1024,
    });
    let mut argv = run_argv;
    argv.extend(sub.args.iter().cloned());
    let mut limits = exec_limits(&sub.limits);
    limits.processes = limits.processes.max(lang.min_processes);

    let (stdin, events) = match stream {
        Some((rx, tx)) => (Some(rx), Some(tx)),
        None => (None, None),
    };
    let cases: Vec<(Input, Option<String>)> = match stdin {
        Some(stdin) => vec![(Input::Stream(stdin), sub.expected_output.clone())],
        None if sub.tests.is_empty() => vec![(
            Input::Bytes(sub.stdin.clone().into_bytes()),
            sub.expected_output.clone(),
        )],
        None => sub
            .tests
            .iter()
            .map(|t| {
                (
                    Input::Bytes(t.stdin.clone().into_bytes()),
                    t.expected_output.clone(),
                )
            })
            .collect(),
    };
    let mut runs: Vec<RunReport> = Vec::with_capacity(cases.len());
    // The test that used the budget up; the ones after it are not run.
    let mut spent_by: Option<usize> = None;
    for (i, (input, expected)) in cases.into_iter().enumerate() {
        if let Some(k) = spent_by {
            runs.push(not_run(budget, k));
            continue;
        }
        let mut spec = ExecSpec::new(argv.clone(), env.clone(), limits);
        spec.merge_stderr = sub.merge_stderr;
        spec.limits.output_bytes = budget.saturating_sub(used);
        spec.stdin = input;
        spec.stream = events.clone();
        match b.exec(spec).await {
            Ok(o) => {
                used += (o.stdout.len() + o.stderr.len()) as u64;
                if o.limit == Some(LimitHit::Output) {
                    spent_by = Some(i);
                }
                let mut r = run_report(o, expected.as_deref());
                if r.status == Status::OutputLimitExceeded && !sub.tests.is_empty() {
                    r.message = Some(format!(
                        "the output of all tests together went over the submission's output budget ({budget} bytes, limits.output_bytes)"
                    ));
                }
                runs.push(r);
            }
            Err(e) => return Report::internal_error(format!("running the program: {e}")),
        }
    }
    let main = runs
        .iter()
        .find(|r| r.status != Status::Accepted)
        .or(runs.last())
        .expect("at least one run")
        .clone();
    Report {
        status: main.status,
        stdout: main.stdout,
        stderr: main.stderr,
        compile_output: String::new(),
        exit_code: main.exit_code,
        signal: main.signal,
        time_ms: main.time_ms,
        wall_time_ms: main.wall_time_ms,
        memory_kb: main.memory_kb,
        message: main.message,
        tests: if sub.tests.is_empty() {
            Vec::new()
        } else {
            runs
        },
        compile_time_ms: None,
        compile_wall_time_ms: None,
        compile_cached: None,
        stdout_bytes: main.stdout_bytes,
        stderr_bytes: main.stderr_bytes,
        compile_output_bytes: None,
        stages: None,
    }
}

/// A test after the one that used the output budget up.
fn not_run(budget: u64, by: usize) -> RunReport {
    RunReport {
        status: Status::OutputLimitExceeded,
        stdout: String::new(),
        stderr: String::new(),
        exit_code: None,
        signal: None,
        time_ms: 0,
        wall_time_ms: 0,
        memory_kb: 0,
        message: Some(format!(
            "not run: tests[{by}] used up the submission's output budget ({budget} bytes for all tests, limits.output_bytes)"
        )),
        stdout_bytes: None,
        stderr_bytes: None,
    }
}
