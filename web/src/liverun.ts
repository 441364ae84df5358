// One interactive run over `GET /api/v1/run/ws` (docs/api.md, "Interactive
// run"): the submission first, then stdin as the user types it, output as
// the program writes it, then the result. Closing the socket stops the run
// (the server kills the box).

import { ensureAuthorised, openSocket } from "./api";
import type { Result, SubmissionRequest } from "./types";

export interface LiveRunEvents {
  output(kind: "stdout" | "stderr", data: string): void;
  result(r: Result): void;
  error(message: string): void;
  /** The socket closed; `finished` says whether a result came first. */
  closed(finished: boolean): void;
}

export class LiveRun {
  private ws: WebSocket | null = null;
  private finished = false;
  private stopped = false;
  stdinOpen = true;

  constructor(private readonly events: LiveRunEvents) {}

  async start(sub: SubmissionRequest, stdin: string, closeStdin: boolean): Promise<void> {
    await ensureAuthorised();
    if (this.stopped) return;
    const ws = openSocket("/api/v1/run/ws");
    this.ws = ws;
    ws.addEventListener("open", () => {
      const { tests: _tests, expected_output: _expected, stdin: _stdin, ...first } = sub;
      ws.send(JSON.stringify(first));
      if (stdin) ws.send(JSON.stringify({ stdin }));
      if (closeStdin) this.eof();
    });
    ws.addEventListener("message", (ev) => this.onMessage(ev));
    ws.addEventListener("error", () => {
      if (!this.finished && !this.stopped) this.events.error("the connection to the server failed");
    });
    ws.addEventListener("close", () => {
      this.stdinOpen = false;
      this.events.closed(this.finished);
    });
  }

  private onMessage(ev: MessageEvent): void {
    if (typeof ev.data !== "string") return;
    let m: { type?: string; data?: string; error?: { message?: string } } & Partial<Result>;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.type === "stdout" || m.type === "stderr") {
      this.events.output(m.type, m.data ?? "");
    } else if (m.type === "result") {
      this.finished = true;
      this.stdinOpen = false;
      this.events.result(m as Result);
    } else if (m.type === "error") {
      this.events.error(m.error?.message ?? "the server refused the run");
    }
  }

  sendStdin(text: string): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.stdinOpen) return false;
    this.ws.send(JSON.stringify({ stdin: text }));
    return true;
  }

  eof(): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.stdinOpen) {
      this.ws.send(JSON.stringify({ eof: true }));
    }
    this.stdinOpen = false;
  }

  /** Stops the run (the server kills its sandbox when the socket closes). */
  stop(): void {
    this.stopped = true;
    this.stdinOpen = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, "stopped by the user");
  }

  get running(): boolean {
    return !this.stopped && !this.finished && this.ws !== null && this.ws.readyState <= WebSocket.OPEN;
  }
}
