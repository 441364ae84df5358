// The shapes of Kiln's API answers the console reads (docs/api.md,
// docs/workspaces.md). Only the fields the console uses are listed.

export interface Language {
  id: string;
  name: string;
  version?: string;
  compiled: boolean;
}

export interface Limits {
  cpu_time_ms?: number;
  wall_time_ms?: number;
  memory_kb?: number;
}

export interface TestCase {
  stdin: string;
  expected_output: string;
}

export interface SubmissionRequest {
  language: string;
  source: string;
  stdin?: string;
  expected_output?: string;
  limits?: Limits;
  tests?: TestCase[];
}

export interface TestResult {
  status: string;
  stdout: string;
  stderr: string;
  exit_code: number | null;
  signal: number | null;
  time_ms: number;
  wall_time_ms: number;
  memory_kb: number;
  message?: string;
}

/** `GET /api/v1/submissions/{id}`, a WebSocket `result`, or a list item. */
export interface Result {
  id?: string;
  language?: string;
  status: string;
  stdout: string | null;
  stderr: string | null;
  compile_output: string | null;
  exit_code: number | null;
  signal: number | null;
  time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  compile_time_ms?: number | null;
  compile_wall_time_ms?: number | null;
  message?: string | null;
  tests?: TestResult[] | null;
  created_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  queue_wait_ms?: number | null;
  /** What was submitted (`?include=input`), with the limits applied. */
  input?: SubmittedInput | null;
}

export interface SubmittedInput {
  language: string;
  files: { name: string; content: string }[];
  stdin: string;
  args: string[];
  expected_output: string | null;
  limits: Limits;
  tests: { stdin: string; expected_output: string | null }[];
}

/** An item of `GET /api/v1/submissions`: no source, input or output. */
export interface SubmissionSummary {
  id: string;
  language: string;
  status: string;
  result: {
    exit_code: number | null;
    signal: number | null;
    time_ms: number;
    wall_time_ms: number;
    memory_kb: number;
    compile_time_ms: number | null;
    message?: string;
    tests: number;
    tests_passed: number;
  } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface SubmissionList {
  submissions: SubmissionSummary[];
  next_cursor: string | null;
}

export interface Timing {
  step: string;
  duration_ms: number;
}

export interface Workspace {
  id: string;
  name: string;
  template: string;
  owner: string;
  status: string;
  parameters: Record<string, string>;
  created_at: string;
  updated_at: string;
  last_used_at: string;
  error: string | null;
  build: { started_at: string; finished_at: string | null; duration_ms: number | null; timings: Timing[] };
  agent: { status: string; ready_at: string | null };
  uid: number;
}

export interface TemplateParameter {
  name: string;
  description: string;
  default: string;
  options: string[];
}

export interface Template {
  name: string;
  description: string;
  cpu: number;
  memory_mb: number;
  disk_mb: number;
  pids: number;
  network: boolean;
  languages: string[];
  python_packages: string[];
  parameters: TemplateParameter[];
}

export interface ExecResult {
  exit_code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  wall_time_ms: number;
  timed_out: boolean;
  output_truncated: boolean;
}

export const FINAL_STATUSES = [
  "accepted",
  "wrong_answer",
  "compilation_error",
  "runtime_error",
  "time_limit_exceeded",
  "memory_limit_exceeded",
  "output_limit_exceeded",
  "internal_error",
];

export const ALL_STATUSES = ["queued", "running", ...FINAL_STATUSES];
