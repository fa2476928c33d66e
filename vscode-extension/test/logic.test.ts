import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Candidate,
  ProbeResult,
  CHAT_SEPARATOR,
  COMMANDS,
  SERVER_COMMANDS,
  chatArguments,
  chatChunkText,
  discoverServer,
  doctorText,
  explainArguments,
  formatChatResult,
  formatQuestion,
  memoryMessage,
  memorySearchItems,
  parseMemoryImport,
  withoutOwnCommands,
  formatStatus,
  formatUnreachable,
  nextPollMs,
  probeVersion,
  serverCandidates,
  toInitializationOptions,
  withTimeout,
} from "../src/logic";

describe("server discovery", () => {
  it("uses only codehearth.serverPath when it is set (no silent fallback)", () => {
    assert.deepEqual(serverCandidates({ serverPath: " /opt/ch/bin/codehearth ", managedVenv: "/g/venv" }), [
      { command: "/opt/ch/bin/codehearth", source: "setting" },
    ]);
  });

  it("expands ~ in serverPath", () => {
    assert.equal(serverCandidates({ serverPath: "~/bin/codehearth", home: "/home/u" })[0].command, "/home/u/bin/codehearth");
  });

  it("tries PATH, then the managed virtual environment", () => {
    assert.deepEqual(serverCandidates({ serverPath: "", managedVenv: "/g/venv", platform: "linux" }), [
      { command: "codehearth", source: "path" },
      { command: "/g/venv/bin/codehearth", source: "managed" },
    ]);
    assert.equal(
      serverCandidates({ managedVenv: "C:\\g\\venv", platform: "win32" })[1].command,
      "C:\\g\\venv\\Scripts\\codehearth.exe",
    );
    assert.deepEqual(serverCandidates({}), [{ command: "codehearth", source: "path" }]);
  });

  it("probes in order and stops at the first that answers", async () => {
    const probed: string[] = [];
    const answers: Record<string, ProbeResult> = {
      codehearth: { ok: false, reason: "not found" },
      "/g/venv/bin/codehearth": { ok: true, version: "0.1.0" },
    };
    const candidates: Candidate[] = serverCandidates({ managedVenv: "/g/venv", platform: "linux" });
    const found = await discoverServer(candidates, async (command) => {
      probed.push(command);
      return answers[command];
    });
    assert.deepEqual(probed, ["codehearth", "/g/venv/bin/codehearth"]);
    assert.ok(found.found);
    assert.equal(found.command, "/g/venv/bin/codehearth");
    assert.equal(found.source, "managed");
    assert.equal(found.version, "0.1.0");
  });

  it("explains what was tried and how to fix it", async () => {
    const missing = await discoverServer(serverCandidates({}), async () => ({ ok: false, reason: "not found" }));
    assert.equal(missing.found, false);
    assert.match(!missing.found ? missing.message : "", /codehearth \(PATH\): not found.*pipx install/);
    const badSetting = await discoverServer(serverCandidates({ serverPath: "/nope" }), async () => ({
      ok: false,
      reason: "not found",
    }));
    assert.match(!badSetting.found ? badSetting.message : "", /\/nope \(codehearth\.serverPath\).*Fix the path/);
  });
});

describe("probeVersion (real processes)", { skip: process.platform === "win32" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "codehearth-probe-"));
  const script = (name: string, body: string) => {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };

  it("accepts `codehearth X` on stdout", async () => {
    assert.deepEqual(await probeVersion(script("good", 'echo "codehearth 0.1.0"')), { ok: true, version: "0.1.0" });
  });

  it("finds `codehearth` on PATH", async () => {
    script("codehearth", 'echo "codehearth 9.9"');
    const result = await probeVersion("codehearth", 5_000, { ...process.env, PATH: dir });
    assert.deepEqual(result, { ok: true, version: "9.9" });
  });

  it("reports a missing file, a failing exit, foreign output and a hang", async () => {
    assert.deepEqual(await probeVersion(join(dir, "absent")), { ok: false, reason: "not found" });
    const failing = await probeVersion(script("fails", 'echo "boom" >&2; exit 3'));
    assert.equal(failing.ok, false);
    assert.match(!failing.ok ? failing.reason : "", /--version failed \(3\): boom/);
    const foreign = await probeVersion(script("other", 'echo "something 1.0"'));
    assert.match(!foreign.ok ? foreign.reason : "", /unexpected --version output/);
    const started = Date.now();
    const hung = await probeVersion(script("hangs", "exec sleep 10"), 300);
    assert.match(!hung.ok ? hung.reason : "", /no answer to --version within 0.3 s/);
    assert.ok(Date.now() - started < 5_000);
  });
});

describe("status bar text", () => {
  const ready = {
    version: "0.1.0",
    ready: true,
    ollama: "http://127.0.0.1:11434",
    completion: { enabled: true, model: "qwen2.5-coder:1.5b", family: "qwen2.5-coder", numCtx: 4096 },
  };

  it("ready: flame, model, endpoint and health in the tooltip", () => {
    const view = formatStatus(ready);
    assert.equal(view.state, "ready");
    assert.equal(view.text, "$(flame) CodeHearth: qwen2.5-coder:1.5b");
    assert.match(view.tooltip, /Endpoint: http:\/\/127\.0\.0\.1:11434/);
    assert.match(view.tooltip, /Model: qwen2\.5-coder:1\.5b \(qwen2\.5-coder\)/);
    assert.match(view.tooltip, /Health: ok/);
    assert.equal(nextPollMs(view), 30_000);
  });

  it("problem: warning icon and the server's message", () => {
    const view = formatStatus({ ...ready, completion: { model: "m:7b", problem: "model m:7b is not pulled" } });
    assert.equal(view.state, "problem");
    assert.equal(view.text, "$(warning) CodeHearth: m:7b");
    assert.match(view.tooltip, /Health: model m:7b is not pulled/);
  });

  it("not ready yet: spinner, polled again soon", () => {
    const view = formatStatus({ version: "0.1.0", ready: false });
    assert.equal(view.state, "starting");
    assert.equal(view.text, "$(sync~spin) CodeHearth");
    assert.equal(nextPollMs(view), 2_000);
  });

  it("names the model that answers and where it runs, not only the configured one", () => {
    const builtIn = formatStatus({
      ...ready,
      completion: { ...ready.completion, answeringModel: "gemma3-270m (the embedded llama.cpp runtime)" },
    });
    assert.equal(builtIn.text, "$(flame) CodeHearth: gemma3-270m");
    assert.match(builtIn.tooltip, /Endpoint: the embedded llama\.cpp runtime/);
    const answered = formatStatus({
      ...ready,
      completion: {
        ...ready.completion,
        answeringModel: "qwen2.5-coder:1.5b (http://127.0.0.1:11434)",
        answeredBy: "qwen2.5-coder:0.5b (http://10.0.0.2:11434)",
      },
    });
    assert.equal(answered.text, "$(flame) CodeHearth: qwen2.5-coder:0.5b");
    assert.match(answered.tooltip, /Endpoint: http:\/\/10\.0\.0\.2:11434/);
  });

  it("a model loading: spinner and its name, not a timeout, polled again soon", () => {
    const view = formatStatus({
      ...ready,
      models: { loading: ["qwen2.5-coder:7b (http://127.0.0.1:11434)"] },
    });
    assert.equal(view.state, "loading");
    assert.equal(view.text, "$(sync~spin) CodeHearth: loading qwen2.5-coder:7b…");
    assert.match(view.tooltip, /Loading into memory: qwen2\.5-coder:7b \(http:\/\/127\.0\.0\.1:11434\)/);
    assert.equal(nextPollMs(view), 2_000);
  });

  it("completions turned off", () => {
    const view = formatStatus({ ...ready, completion: { ...ready.completion, enabled: false } });
    assert.equal(view.state, "disabled");
    assert.equal(view.text, "$(flame) CodeHearth: off");
  });

  it("unreachable: error icon and the reason", () => {
    const view = formatUnreachable(new Error("the server is not running"));
    assert.equal(view.state, "unreachable");
    assert.equal(view.text, "$(error) CodeHearth");
    assert.match(view.tooltip, /not answering: the server is not running/);
    assert.equal(formatStatus(null).state, "unreachable");
    assert.equal(formatUnreachable({ message: "rpc" }).tooltip.includes("rpc"), true);
  });

  it("withTimeout rejects a request that never answers", async () => {
    await assert.rejects(withTimeout(new Promise(() => {}), 20, "codehearth.status"), /timed out after 0.02 s/);
    assert.equal(await withTimeout(Promise.resolve(1), 1_000, "x"), 1);
  });
});

describe("settings → initializationOptions", () => {
  it("drops client-only keys and WorkspaceConfiguration methods, keeps nested values", () => {
    const configuration = {
      serverPath: "/x",
      trace: { server: "verbose" },
      ollama: { host: null, keepAlive: "30m" },
      completion: { enabled: false, model: "m", temperature: 0.2 },
      index: { exclude: ["dist/**"] },
      get: () => undefined,
      has: () => false,
      inspect: () => undefined,
      update: async () => undefined,
    };
    assert.deepEqual(toInitializationOptions(configuration), {
      ollama: { host: null, keepAlive: "30m" },
      completion: { enabled: false, model: "m", temperature: 0.2 },
      index: { exclude: ["dist/**"] },
    });
    assert.deepEqual(toInitializationOptions(undefined), {});
  });
});

describe("chat chunks", () => {
  it("takes text from a string or {text|content|delta}", () => {
    assert.equal(chatChunkText("a"), "a");
    assert.equal(chatChunkText({ text: "b" }), "b");
    assert.equal(chatChunkText({ delta: "c" }), "c");
    assert.equal(chatChunkText({ other: 1 }), '{"other":1}\n');
  });
});

const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

describe("chat", () => {
  it("sends the selection with the question only when it is non-empty", () => {
    const uri = "file:///ws/calc.py";
    assert.deepEqual(chatArguments("  why?  ", { uri, range: range(3, 0, 5, 2) }, "vscode"), {
      question: "why?",
      conversationId: "vscode",
      uri,
      range: range(3, 0, 5, 2),
    });
    assert.deepEqual(chatArguments("why?", { uri, range: range(3, 4, 3, 4) }), { question: "why?" });
    assert.deepEqual(chatArguments("why?"), { question: "why?" });
    assert.equal(chatArguments("   "), undefined);
  });

  it("explains the current line when nothing is selected", () => {
    assert.deepEqual(explainArguments("file:///a.py", range(2, 1, 4, 0), 10), { uri: "file:///a.py", range: range(2, 1, 4, 0) });
    assert.deepEqual(explainArguments("file:///a.py", range(2, 5, 2, 5), 12, "c"), {
      uri: "file:///a.py",
      range: range(2, 0, 2, 12),
      conversationId: "c",
    });
  });

  it("formats the question and the outcome", () => {
    assert.equal(formatQuestion("why?", "calc.py:4-5"), "> why?  (calc.py:4-5)\n\n");
    const streamed = formatChatResult({ ok: true, text: "An answer.", model: "m", toolResults: [], summarised: false }, true);
    assert.equal(streamed.error, undefined);
    assert.ok(!streamed.text.includes("An answer."), "streamed text is not printed twice");
    assert.ok(streamed.text.includes("(m)") && streamed.text.includes(CHAT_SEPARATOR));
    const whole = formatChatResult(
      { ok: true, text: "An answer.", model: "m", toolResults: [{ name: "search", ok: false }], summarised: true },
      false,
    );
    assert.ok(whole.text.includes("An answer.\n[tool search failed]\n(m, earlier turns summarised)"));
    const failed = formatChatResult({ ok: false, error: "model not found" }, false);
    assert.equal(failed.error, "model not found");
    assert.ok(failed.text.includes("Error: model not found"));
    const cancelled = formatChatResult({ ok: false, cancelled: true }, true);
    assert.equal(cancelled.error, undefined);
    assert.ok(cancelled.text.includes("(cancelled)"));
    assert.match(formatChatResult(null, false).error ?? "", /unexpected reply/);
  });

  it("keeps vscode-languageclient from registering our command ids twice", () => {
    const own = Object.values(COMMANDS);
    assert.deepEqual(
      withoutOwnCommands({ commands: [SERVER_COMMANDS.chat, SERVER_COMMANDS.explain, SERVER_COMMANDS.memoryShow, SERVER_COMMANDS.memoryForget] }, own)
        .commands,
      [SERVER_COMMANDS.explain, SERVER_COMMANDS.memoryForget],
    );
    const none = {};
    assert.equal(withoutOwnCommands(none, own), none);
  });
});

describe("memory", () => {
  it("lists search hits as quick pick items", () => {
    const items = memorySearchItems({
      archival: [{ id: "n1", text: "use  tabs\nalways", tags: ["style"], time: "2024-01-01", score: 0.91234 }, { text: "no id" }],
      recall: [{ id: "r1", kind: "message", role: "user", text: "x".repeat(200), time: "t" }],
    });
    assert.deepEqual(items.map((i) => i.id), ["n1", "r1"]);
    assert.equal(items[0].label, "use tabs always");
    assert.equal(items[0].description, "note #style · 0.91");
    assert.equal(items[0].detail, "n1 · 2024-01-01");
    assert.equal(items[1].label.length, 80);
    assert.equal(items[1].description, "message · user");
    assert.deepEqual(memorySearchItems(undefined), []);
  });

  it("summarises add/forget/import replies", () => {
    assert.deepEqual(memoryMessage({ ok: true, id: "n1", message: "added n1" }), { ok: true, message: "added n1" });
    assert.deepEqual(memoryMessage({ ok: false, message: "no record 'x' to forget" }), {
      ok: false,
      message: "no record 'x' to forget",
    });
    assert.deepEqual(memoryMessage({ added: 2, skipped: 1, message: "" }), { ok: true, message: "imported 2, skipped 1" });
    assert.deepEqual(memoryMessage({ available: false, problem: "memory is not open yet" }), {
      ok: false,
      message: "memory unavailable: memory is not open yet",
    });
  });

  it("parses an exported file for import", () => {
    assert.deepEqual(parseMemoryImport('{"version": 1, "records": []}'), { data: { version: 1, records: [] } });
    assert.throws(() => parseMemoryImport("[1]"), /JSON object/);
    assert.throws(() => parseMemoryImport("{oops"), /not JSON/);
  });
});

describe("doctor text", () => {
  it("prints the server's table with a verdict", () => {
    const table = "CHECK  STATUS  DETAIL\nendpoint ollama  OK  http://127.0.0.1:11434\n";
    assert.equal(doctorText({ ok: true, table }), `CodeHearth doctor (no failures):\n${table}`);
    assert.match(doctorText({ ok: false, table }), /a check FAILED/);
  });

  it("says why there is no table", () => {
    assert.equal(doctorText({ ok: false, error: "CodeHearth is still starting" }), "CodeHearth doctor: CodeHearth is still starting");
    assert.match(doctorText(null), /unexpected answer null/);
  });
});
