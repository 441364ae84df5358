// A workspace terminal: xterm.js on `GET /api/v1/workspaces/{id}/pty`
// (docs/workspaces.md, "Terminal"). Frames to the server are JSON
// (`{"data"}` input, `{"height","width"}` resize); frames from it are raw
// terminal bytes. The reconnect id is kept for the tab, so a dropped
// connection (network, a server close for a slow client: 4000) reattaches to
// the same shell and gets the recent output replayed; when the shell itself
// exits (a close without a code) the next connection starts a new one.

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { ensureAuthorised, openSocket } from "./api";

/** Reconnect attempts before the terminal waits for the user. */
const MAX_RETRIES = 6;

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export interface TerminalEvents {
  state(text: string, connected: boolean): void;
}

export class WorkspaceTerminal {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private ws: WebSocket | null = null;
  private retries = 0;
  private retryTimer = 0;
  private disposed = false;
  private readonly resizeObserver: ResizeObserver;
  private readonly storageKey: string;
  private tabLeaves = false;

  constructor(
    private readonly host: HTMLElement,
    private readonly workspaceId: string,
    private readonly events: TerminalEvents,
  ) {
    this.storageKey = `kiln.pty.${workspaceId}`;
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: "#14181f", foreground: "#e6e8eb", cursor: "#f6a23c" },
    });
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.term.textarea?.setAttribute("aria-label", "Workspace terminal input");
    this.term.onData((data) => this.send({ data }));
    // false: xterm leaves the key to the browser (focus moves on).
    this.term.attachCustomKeyEventHandler((ev) => !(this.tabLeaves && ev.key === "Tab"));
    this.term.onResize(({ cols, rows }) => this.send({ height: rows, width: cols }));
    this.resizeObserver = new ResizeObserver(() => this.refit());
    this.resizeObserver.observe(host);
    this.refit();
  }

  private refit(): void {
    if (this.disposed || !this.host.isConnected || this.host.clientWidth === 0) return;
    try {
      this.fit.fit();
    } catch {
      // not measurable yet (hidden): the next resize fits it
    }
  }

  private reconnectId(): string {
    let id = sessionStorage.getItem(this.storageKey);
    if (!id) {
      id = randomId();
      sessionStorage.setItem(this.storageKey, id);
    }
    return id;
  }

  private send(frame: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  async connect(): Promise<void> {
    if (this.disposed) return;
    window.clearTimeout(this.retryTimer);
    this.ws?.close();
    this.events.state("Connecting…", false);
    try {
      await ensureAuthorised();
    } catch (e) {
      this.events.state(`Cannot connect: ${e instanceof Error ? e.message : e}`, false);
      return;
    }
    this.refit();
    const q = new URLSearchParams({ width: String(this.term.cols), height: String(this.term.rows), reconnect: this.reconnectId() });
    const ws = openSocket(`/api/v1/workspaces/${this.workspaceId}/pty?${q}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let first = true;
    ws.addEventListener("open", () => {
      this.retries = 0;
      this.events.state("Connected", true);
    });
    ws.addEventListener("message", (ev) => {
      if (first) {
        // The replay of a reattached shell starts from a clean screen.
        this.term.reset();
        first = false;
      }
      if (ev.data instanceof ArrayBuffer) this.term.write(new Uint8Array(ev.data));
      else if (typeof ev.data === "string") this.term.write(ev.data);
    });
    ws.addEventListener("close", (ev) => this.onClose(ws, ev));
  }

  private onClose(ws: WebSocket, ev: CloseEvent): void {
    if (this.disposed || ws !== this.ws) return;
    this.ws = null;
    if (ev.code === 1005 || ev.code === 1000) {
      // The shell ended: a new session next time.
      sessionStorage.removeItem(this.storageKey);
      this.term.write("\r\n\x1b[2m[the shell exited; press Reconnect for a new one]\x1b[0m\r\n");
      this.events.state("The shell exited", false);
      return;
    }
    if (this.retries >= MAX_RETRIES) {
      this.events.state(`Disconnected (${ev.reason || `code ${ev.code}`}); press Reconnect`, false);
      return;
    }
    const delay = Math.min(500 * 2 ** this.retries, 8000);
    this.retries += 1;
    this.events.state(`Disconnected (${ev.reason || `code ${ev.code}`}); reconnecting in ${Math.round(delay / 1000) || 1} s…`, false);
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }

  /** Reconnects now (same shell if it is still there). */
  reconnect(): void {
    this.retries = 0;
    void this.connect();
  }

  focus(): void {
    this.term.focus();
  }

  /** Tab (and Shift-Tab) move the focus out instead of going to the shell. */
  setTabLeaves(on: boolean): void {
    this.tabLeaves = on;
  }

  setScreenReaderMode(on: boolean): void {
    this.term.options.screenReaderMode = on;
  }

  dispose(): void {
    this.disposed = true;
    window.clearTimeout(this.retryTimer);
    this.resizeObserver.disconnect();
    this.ws?.close(1000, "closed by the console");
    this.term.dispose();
  }
}
