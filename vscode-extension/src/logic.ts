// Pure logic of the CodeHearth client: no `vscode` import, so `node --test` covers it.
// Server discovery, settings → initializationOptions, status bar text, settings schema.

import { execFile } from "node:child_process";
import * as path from "node:path";

/** LSP language ids served (grammars/languages.toml); also the activation events. */
export const LANGUAGES = [
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "go",
  "rust",
  "java",
  "c",
  "cpp",
] as const;

export const CONFIG_SECTION = "codehearth";
/** Settings only the client reads; never sent to the server. */
export const CLIENT_ONLY_KEYS: readonly string[] = ["serverPath", "trace"];
export const STATUS_COMMAND = "codehearth.status";
export const CHAT_CHUNK_NOTIFICATION = "codehearth/chatChunk";
export const STATUS_POLL_MS = 30_000;
export const STARTING_POLL_MS = 2_000;

/** Commands the extension contributes (package.json `contributes.commands`). */
export const COMMANDS = {
  restart: "codehearth.restart",
  showStatus: "codehearth.showStatus",
  toggleCompletions: "codehearth.toggleCompletions",
  openLog: "codehearth.openLog",
  installServer: "codehearth.installServer",
} as const;

// ---------------------------------------------------------------- server discovery

export type CandidateSource = "setting" | "path" | "managed";

export interface Candidate {
  command: string;
  source: CandidateSource;
}

export interface CandidateOptions {
  /** `codehearth.serverPath`; empty means "not set". */
  serverPath?: string;
  /** The virtual environment made by the install command, if any. */
  managedVenv?: string;
  platform?: NodeJS.Platform;
  home?: string;
}

/** Where the `codehearth` executable lives inside a virtual environment. */
export function venvLayout(dir: string, platform: NodeJS.Platform = process.platform) {
  const windows = platform === "win32";
  const join = windows ? path.win32.join : path.posix.join;
  const bin = join(dir, windows ? "Scripts" : "bin");
  return {
    python: join(bin, windows ? "python.exe" : "python"),
    codehearth: join(bin, windows ? "codehearth.exe" : "codehearth"),
  };
}

/**
 * The executables to try, in order. An explicit `serverPath` is the only candidate:
 * silently falling back elsewhere would hide a typo in the setting.
 * Otherwise `codehearth` on PATH, then the managed virtual environment.
 */
export function serverCandidates(options: CandidateOptions): Candidate[] {
  const configured = (options.serverPath ?? "").trim();
  if (configured) {
    let command = configured;
    if (options.home && (command === "~" || command.startsWith("~/"))) {
      command = options.home + command.slice(1);
    }
    return [{ command, source: "setting" }];
  }
  const candidates: Candidate[] = [{ command: "codehearth", source: "path" }];
  if (options.managedVenv) {
    candidates.push({
      command: venvLayout(options.managedVenv, options.platform).codehearth,
      source: "managed",
    });
  }
  return candidates;
}

export type ProbeResult = { ok: true; version: string } | { ok: false; reason: string };
export type Probe = (command: string) => Promise<ProbeResult>;

export interface Tried extends Candidate {
  reason: string;
}

export type Discovery =
  | { found: true; command: string; source: CandidateSource; version: string; tried: Tried[] }
  | { found: false; tried: Tried[]; message: string };

const VERSION_LINE = /^codehearth\s+(\S+)/m;

/** Run `command --version`; ok only when it exits 0 and prints `codehearth X`. */
export function probeVersion(
  command: string,
  timeoutMs = 5_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      ["--version"],
      { timeout: timeoutMs, windowsHide: true, env, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) {
          const err = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
          if (err.code === "ENOENT") {
            resolve({ ok: false, reason: "not found" });
          } else if (err.code === "EACCES") {
            resolve({ ok: false, reason: "not executable" });
          } else if (err.killed || err.signal === "SIGTERM") {
            resolve({ ok: false, reason: `no answer to --version within ${timeoutMs / 1000} s` });
          } else {
            const detail = String(stderr || stdout || err.message).trim().split("\n")[0];
            resolve({ ok: false, reason: `--version failed (${err.code ?? "error"}): ${detail}` });
          }
          return;
        }
        const match = VERSION_LINE.exec(String(stdout));
        if (!match) {
          resolve({ ok: false, reason: `unexpected --version output: ${String(stdout).trim().slice(0, 80)}` });
          return;
        }
        resolve({ ok: true, version: match[1] });
      },
    );
  });
}

const SOURCE_LABEL: Record<CandidateSource, string> = {
  setting: "codehearth.serverPath",
  path: "PATH",
  managed: "the CodeHearth virtual environment",
};

/** Probe the candidates in order; the first that answers wins. */
export async function discoverServer(candidates: Candidate[], probe: Probe): Promise<Discovery> {
  const tried: Tried[] = [];
  for (const candidate of candidates) {
    const result = await probe(candidate.command);
    if (result.ok) {
      return { found: true, ...candidate, version: result.version, tried };
    }
    tried.push({ ...candidate, reason: result.reason });
  }
  const details = tried
    .map((t) => `${t.command} (${SOURCE_LABEL[t.source]}): ${t.reason}`)
    .join("; ");
  const hint = candidates.some((c) => c.source === "setting")
    ? "Fix the path in the setting codehearth.serverPath, or clear it to use `codehearth` on PATH."
    : "Install it (e.g. `pipx install /path/to/codehearth`) or set codehearth.serverPath to the executable.";
  return {
    found: false,
    tried,
    message: `The CodeHearth server was not found. Tried ${details}. ${hint}`,
  };
}

// ---------------------------------------------------------------- settings

function plain(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    return value;
  }
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : undefined;
  }
  if (Array.isArray(value)) {
    return value.map(plain).filter((item) => item !== undefined);
  }
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const converted = plain(item);
      if (converted !== undefined) {
        out[key] = converted;
      }
    }
    return out;
  }
  return undefined; // functions (WorkspaceConfiguration.get/has/...), undefined, symbols
}

/** The `codehearth` configuration as initializationOptions: plain JSON, client-only keys dropped. */
export function toInitializationOptions(configuration: unknown): Record<string, unknown> {
  const converted = plain(configuration);
  if (converted === null || typeof converted !== "object" || Array.isArray(converted)) {
    return {};
  }
  const options = converted as Record<string, unknown>;
  for (const key of CLIENT_ONLY_KEYS) {
    delete options[key];
  }
  return options;
}

/** One row of Python's `codehearth.settings.describe()`: dotted camelCase name, default, doc. */
export type DescribeRow = [string, unknown, string];

export interface PropertySchema {
  type: string | string[];
  default: unknown;
  description: string;
  order?: number;
  items?: { type: string };
  enum?: string[];
  scope?: string;
  markdownDescription?: string;
}

function schemaType(value: unknown): string | string[] {
  if (value === null || value === undefined) return ["string", "null"];
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return "number";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return "string";
}

/**
 * Settings whose workspace value is ignored in an untrusted workspace (they choose what
 * runs, where code is sent, where files are written): package.json
 * `capabilities.untrustedWorkspaces.restrictedConfigurations`.
 */
export const RESTRICTED_SETTINGS = ["codehearth.serverPath", "codehearth.ollama.host", "codehearth.logging.file"];

/** package.json `contributes.configuration.properties` for the server's settings. */
export function settingsProperties(rows: DescribeRow[]): Record<string, PropertySchema> {
  const properties: Record<string, PropertySchema> = {};
  rows.forEach(([name, defaultValue, doc], index) => {
    const key = `${CONFIG_SECTION}.${name}`;
    const schema: PropertySchema = {
      type: schemaType(defaultValue),
      default: defaultValue,
      description: doc,
      order: index,
    };
    if (Array.isArray(defaultValue)) {
      schema.items = { type: "string" };
    }
    properties[key] = schema;
  });
  return properties;
}

/** Settings only the client reads. */
export const CLIENT_PROPERTIES: Record<string, PropertySchema> = {
  "codehearth.serverPath": {
    type: "string",
    default: "",
    description:
      "Path to the codehearth executable. Empty: `codehearth` on PATH, then the virtual " +
      "environment made by the command 'CodeHearth: Install Server in a Virtual Environment'. " +
      "User settings only: a workspace cannot choose what runs.",
    scope: "machine",
    order: -2,
  },
  "codehearth.trace.server": {
    type: "string",
    enum: ["off", "messages", "verbose"],
    default: "off",
    description: "Trace the LSP messages between VS Code and the server in the CodeHearth output.",
    order: -1,
  },
};

// ---------------------------------------------------------------- status bar

export type StatusState = "searching" | "starting" | "ready" | "disabled" | "problem" | "unreachable" | "missing";

export interface StatusView {
  state: StatusState;
  text: string;
  tooltip: string;
}

export interface StatusReport {
  version?: string;
  ready?: boolean;
  ollama?: string;
  completion?: {
    enabled?: boolean;
    model?: string;
    family?: string;
    familyReason?: string;
    problem?: string;
    numCtx?: number;
  };
}

const NAME = "CodeHearth";
const CLICK = "Click for CodeHearth actions.";

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === "object" && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}

/** The status bar for a `codehearth.status` report. */
export function formatStatus(report: unknown): StatusView {
  if (!report || typeof report !== "object") {
    return formatUnreachable(new Error(`unexpected status reply: ${JSON.stringify(report)}`));
  }
  const r = report as StatusReport;
  const server = r.version ? `${NAME} ${r.version}` : NAME;
  if (!r.ready) {
    return {
      state: "starting",
      text: `$(sync~spin) ${NAME}`,
      tooltip: `${server} is starting.\n${CLICK}`,
    };
  }
  const completion = r.completion ?? {};
  const model = completion.model ?? "no model";
  const lines = [
    server,
    `Endpoint: ${r.ollama ?? "unknown"}`,
    `Model: ${model}${completion.family ? ` (${completion.family})` : ""}`,
  ];
  if (completion.problem) {
    lines.push(`Health: ${completion.problem}`, CLICK);
    return { state: "problem", text: `$(warning) ${NAME}: ${model}`, tooltip: lines.join("\n") };
  }
  lines.push("Health: ok");
  if (completion.enabled === false) {
    lines.push("Completions are turned off.", CLICK);
    return { state: "disabled", text: `$(flame) ${NAME}: off`, tooltip: lines.join("\n") };
  }
  lines.push(CLICK);
  return { state: "ready", text: `$(flame) ${NAME}: ${model}`, tooltip: lines.join("\n") };
}

/** The status bar when the server did not answer (not running, crashed, timed out). */
export function formatUnreachable(error: unknown): StatusView {
  return {
    state: "unreachable",
    text: `$(error) ${NAME}`,
    tooltip: `The ${NAME} server is not answering: ${errorText(error)}\n${CLICK}`,
  };
}

export function formatMissing(message: string): StatusView {
  return { state: "missing", text: `$(error) ${NAME}`, tooltip: `${message}\n${CLICK}` };
}

export const SEARCHING: StatusView = {
  state: "searching",
  text: `$(sync~spin) ${NAME}`,
  tooltip: `Looking for the ${NAME} server…`,
};

/** When to ask for the status again: soon while starting, else every 30 s. */
export function nextPollMs(view: StatusView): number {
  return view.state === "starting" ? STARTING_POLL_MS : STATUS_POLL_MS;
}

/** Reject when `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Text of a `codehearth/chatChunk` notification (shape not final: string or {text|content|delta}). */
export function chatChunkText(params: unknown): string {
  if (typeof params === "string") return params;
  if (params && typeof params === "object") {
    for (const key of ["text", "content", "delta"]) {
      const value = (params as Record<string, unknown>)[key];
      if (typeof value === "string") return value;
    }
  }
  return `${JSON.stringify(params)}\n`;
}
