// broker.mts — a real `strand serve` for the generated client's scenario:
// $STRAND_BIN on 127.0.0.1 port 0 with a fresh temporary data directory,
// the bound port read from --port-file, ready once /healthz answers (polled
// with a deadline); stopped with SIGTERM (SIGKILL past a deadline) and its
// directory removed.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 15_000;

/** Poll probe every 10 ms until it returns a value, or fail after ms. */
export async function until<T>(what: string, ms: number,
                               probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class Broker {
  private constructor(readonly url: string, private readonly proc: ChildProcess,
                      private readonly dir: string, private readonly log: () => string) {}

  static async start(): Promise<Broker> {
    const bin = process.env.STRAND_BIN;
    if (!bin) throw new Error("STRAND_BIN must name the strand binary");
    const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), "strand-client-"));
    const portFile = join(dir, "port");
    let stderr = "";
    const proc = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"),
                             "--port-file", portFile], { stdio: ["ignore", "ignore", "pipe"] });
    proc.stderr!.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4096); });
    let exited = false;
    proc.on("exit", () => { exited = true; });
    const url = await until("the broker's port file", START_DEADLINE_MS, async () => {
      if (exited) throw new Error(`strand exited during start:\n${stderr}`);
      try {
        const port = parseInt(readFileSync(portFile, "utf8"), 10);
        return port > 0 ? `http://127.0.0.1:${port}` : undefined;
      } catch { return undefined; }
    });
    await until("/healthz", START_DEADLINE_MS, async () => {
      try { return (await fetch(`${url}/healthz`)).ok ? true : undefined; } catch { return undefined; }
    });
    return new Broker(url, proc, dir, () => stderr);
  }

  /** The last lines the broker wrote to stderr (for failure messages). */
  logTail(): string { return this.log(); }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const gone = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), STOP_DEADLINE_MS);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
