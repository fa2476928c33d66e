// Pure logic of the CodeHearth client: no `vscode` import, so `node --test` covers it.
// Server discovery, settings → initializationOptions, status bar text, settings schema,
// the inline-completion context in LSP terms, chat and memory helpers.

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
  doctor: "codehearth.showDoctor",
  toggleCompletions: "codehearth.toggleCompletions",
  openLog: "codehearth.openLog",
  installServer: "codehearth.installServer",
  chat: "codehearth.chat",
  explainSelection: "codehearth.explainSelection",
  memoryShow: "codehearth.memory.show",
  memoryAdd: "codehearth.memory.add",
  memorySearch: "codehearth.memory.search",
  memoryExport: "codehearth.memory.export",
  memoryImport: "codehearth.memory.import",
  showStyle: "codehearth.showStyle",
} as const;

/** Server-side `workspace/executeCommand` commands the extension calls. */
export const SERVER_COMMANDS = {
  status: "codehearth.status",
  doctor: "codehearth.doctor",
  chat: "codehearth.chat",
  explain: "codehearth.explain",
  memoryShow: "codehearth.memory.show",
  memoryAdd: "codehearth.memory.add",
  memorySearch: "codehearth.memory.search",
  memoryForget: "codehearth.memory.forget",
  memoryExport: "codehearth.memory.export",
  memoryImport: "codehearth.memory.import",
  style: "codehearth.style",
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

/** settings.snapshot.json: the describe() rows and, from `list_item_types()`, the item type
 * of each list setting ("string", or "object" for a list of tables). */
export interface SettingsSnapshot {
  settings: DescribeRow[];
  listItems: Record<string, string>;
}

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
export const RESTRICTED_SETTINGS = [
  "codehearth.serverPath",
  "codehearth.ollama.host",
  "codehearth.logging.file",
  "codehearth.models.allowCloud",
  "codehearth.models.endpoints",
  "codehearth.models.embeddedModelPath",
];

/** package.json `contributes.configuration.properties` for the server's settings. */
export function settingsProperties(
  rows: DescribeRow[],
  listItems: Record<string, string> = {},
): Record<string, PropertySchema> {
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
      schema.items = { type: listItems[name] ?? "string" };
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

export type StatusState =
  | "searching"
  | "starting"
  | "loading"
  | "ready"
  | "disabled"
  | "problem"
  | "unreachable"
  | "missing";

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
    /** The model that answered the last completion: "model (where)". */
    answeredBy?: string;
    /** The model that would answer a completion now: "model (where)". */
    answeringModel?: string;
  };
  models?: {
    /** Models a model server is loading into memory now ("qwen2.5-coder:7b (http://…)"). */
    loading?: string[];
  };
}

const NAME = "CodeHearth";
const CLICK = "Click for CodeHearth actions.";

export function errorText(error: unknown): string {
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
  // The model that really answers (a fallback, the built-in one), not only the configured one.
  const [answering, where] = splitLabel(completion.answeredBy ?? completion.answeringModel);
  const model = answering ?? completion.model ?? "no model";
  const lines = [
    server,
    `Endpoint: ${where ?? r.ollama ?? "unknown"}`,
    `Model: ${model}${completion.family ? ` (${completion.family})` : ""}`,
  ];
  const loading = r.models?.loading ?? [];
  if (loading.length > 0) {
    lines.push(`Loading into memory: ${loading.join(", ")}`, "Suggestions start once it is loaded.", CLICK);
    const first = loading[0].split(" (")[0];
    return { state: "loading", text: `$(sync~spin) ${NAME}: loading ${first}…`, tooltip: lines.join("\n") };
  }
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

/** "qwen2.5-coder:7b (http://127.0.0.1:11434)" → the model and where it runs. */
function splitLabel(label: string | undefined): [string | undefined, string | undefined] {
  if (!label) return [undefined, undefined];
  const open = label.indexOf(" (");
  if (open < 0 || !label.endsWith(")")) return [label, undefined];
  return [label.slice(0, open), label.slice(open + 2, -1)];
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

/** When to ask for the status again: soon while starting or loading a model, else every 30 s. */
export function nextPollMs(view: StatusView): number {
  return view.state === "starting" || view.state === "loading" ? STARTING_POLL_MS : STATUS_POLL_MS;
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

// ---------------------------------------------------------------- executeCommand registration

/**
 * The server advertises its commands (executeCommandProvider.commands) and
 * vscode-languageclient registers a VS Code command for each; some share an id with a
 * command this extension registers itself (codehearth.chat, codehearth.memory.*), and a
 * second registration of an id throws. Drop those: ours call the server explicitly.
 */
export function withoutOwnCommands<T extends { commands?: string[] }>(options: T, own: readonly string[]): T {
  if (!options || !Array.isArray(options.commands)) return options;
  return { ...options, commands: options.commands.filter((command) => !own.includes(command)) };
}

// ---------------------------------------------------------------- inline completion

/** VS Code's `InlineCompletionTriggerKind`: Invoke = 0 (Alt+\, "Trigger Inline Suggestion"), Automatic = 1. */
export const VSCODE_INLINE_TRIGGER = { invoke: 0, automatic: 1 } as const;
/** The LSP's `InlineCompletionTriggerKind`: Invoked = 1, Automatic = 2. */
export const LSP_INLINE_TRIGGER = { invoked: 1, automatic: 2 } as const;

/** The parts of VS Code's `InlineCompletionContext` the server gets (a `vscode.Range`
 * turns into the JSON array `[start, end]`, hence the plain copy below). */
export interface CodeInlineCompletionContext {
  readonly triggerKind: number;
  readonly selectedCompletionInfo?: {
    readonly range: { readonly start: LspPosition; readonly end: LspPosition };
    readonly text: string;
  };
}

export interface LspInlineCompletionContext {
  triggerKind: 1 | 2;
  selectedCompletionInfo?: { range: LspRange; text: string };
}

/**
 * VS Code's inline-completion context in LSP terms. vscode-languageclient 9.0.1 sends
 * VS Code's context unconverted (microsoft/vscode-languageserver-node#1371): the trigger
 * kinds in VS Code's numbering (so every automatic trigger read as an explicit one and an
 * explicit one was invalid) and the selected suggestion's range as a JSON array (every
 * request with the suggest widget open was rejected). The extension's middleware hands
 * the library this instead, which it forwards as is.
 */
export function toLspInlineCompletionContext(context: CodeInlineCompletionContext): LspInlineCompletionContext {
  const triggerKind =
    context.triggerKind === VSCODE_INLINE_TRIGGER.invoke ? LSP_INLINE_TRIGGER.invoked : LSP_INLINE_TRIGGER.automatic;
  const selected = context.selectedCompletionInfo;
  if (!selected) {
    return { triggerKind };
  }
  const position = (p: LspPosition): LspPosition => ({ line: p.line, character: p.character });
  return {
    triggerKind,
    selectedCompletionInfo: {
      range: { start: position(selected.range.start), end: position(selected.range.end) },
      text: selected.text,
    },
  };
}

/**
 * `middleware.provideInlineCompletionItems`: the request goes on through the library
 * (`next`) with the context converted. Generic so it is tested without `vscode`.
 */
export function convertInlineCompletionContext<D, P, T, R>(
  document: D,
  position: P,
  context: CodeInlineCompletionContext,
  token: T,
  next: (document: D, position: P, context: never, token: T) => R,
): R {
  return next(document, position, toLspInlineCompletionContext(context) as never, token);
}

// ---------------------------------------------------------------- chat

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface ChatArgs {
  question: string;
  conversationId?: string;
  uri?: string;
  range?: LspRange;
}

export interface ChatSelection {
  uri: string;
  range: LspRange;
}

export function isEmptyRange(range: LspRange): boolean {
  return range.start.line === range.end.line && range.start.character === range.end.character;
}

/** `codehearth.chat` arguments; the selection is sent only when it is non-empty. */
export function chatArguments(question: string, selection?: ChatSelection, conversationId?: string): ChatArgs | undefined {
  const trimmed = question.trim();
  if (!trimmed) return undefined;
  const args: ChatArgs = { question: trimmed };
  if (conversationId) args.conversationId = conversationId;
  if (selection && !isEmptyRange(selection.range)) {
    args.uri = selection.uri;
    args.range = selection.range;
  }
  return args;
}

/** `codehearth.explain` arguments: the selection, or the whole current line when it is empty. */
export function explainArguments(
  uri: string,
  range: LspRange,
  lineLength: number,
  conversationId?: string,
): { uri: string; range: LspRange; conversationId?: string } {
  const chosen = isEmptyRange(range)
    ? { start: { line: range.start.line, character: 0 }, end: { line: range.start.line, character: lineLength } }
    : range;
  return conversationId ? { uri, range: chosen, conversationId } : { uri, range: chosen };
}

export const CHAT_SEPARATOR = "─".repeat(60);

/** The heading printed before an answer streams in. */
export function formatQuestion(question: string, where?: string): string {
  return `> ${question}${where ? `  (${where})` : ""}\n\n`;
}

/**
 * What to append after the `codehearth.chat`/`codehearth.explain` reply arrived. The
 * answer itself normally streamed in as chunks; when none came (`streamed` false), print
 * it here. Ends with the separator.
 */
export function formatChatResult(result: unknown, streamed: boolean): { text: string; error?: string } {
  const r = (result && typeof result === "object" ? result : {}) as Record<string, unknown>;
  const lines: string[] = [];
  let error: string | undefined;
  if (r.ok === true) {
    if (!streamed && typeof r.text === "string") lines.push(r.text);
    const tools = Array.isArray(r.toolResults) ? r.toolResults : [];
    for (const tool of tools as Record<string, unknown>[]) {
      lines.push(`[tool ${String(tool?.name)}${tool?.ok === false ? " failed" : ""}]`);
    }
    const notes = [typeof r.model === "string" ? r.model : undefined, r.summarised ? "earlier turns summarised" : undefined]
      .filter(Boolean)
      .join(", ");
    if (notes) lines.push(`(${notes})`);
  } else if (r.cancelled) {
    lines.push("(cancelled)");
  } else {
    error = typeof r.error === "string" ? r.error : `unexpected reply: ${JSON.stringify(result)}`;
    lines.push(`Error: ${error}`);
  }
  lines.push(CHAT_SEPARATOR, "");
  return { text: `\n${lines.join("\n")}\n`, error };
}

// ---------------------------------------------------------------- memory

export interface MemoryPick {
  label: string;
  description: string;
  detail: string;
  id: string;
}

function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Quick pick items for a `codehearth.memory.search` reply: archival notes, then recall. */
export function memorySearchItems(result: unknown): MemoryPick[] {
  const r = (result && typeof result === "object" ? result : {}) as Record<string, unknown>;
  const items: MemoryPick[] = [];
  const list = (value: unknown) => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);
  for (const hit of list(r.archival)) {
    if (typeof hit?.id !== "string") continue;
    const tags = Array.isArray(hit.tags) && hit.tags.length ? ` #${hit.tags.join(" #")}` : "";
    items.push({
      label: oneLine(String(hit.text ?? "")),
      description: `note${tags}${typeof hit.score === "number" ? ` · ${hit.score.toFixed(2)}` : ""}`,
      detail: `${hit.id}${hit.time ? ` · ${String(hit.time)}` : ""}`,
      id: hit.id,
    });
  }
  for (const record of list(r.recall)) {
    if (typeof record?.id !== "string") continue;
    items.push({
      label: oneLine(String(record.text ?? "")),
      description: [record.kind, record.role].filter((v) => typeof v === "string" && v).join(" · "),
      detail: `${record.id}${record.time ? ` · ${String(record.time)}` : ""}`,
      id: record.id,
    });
  }
  return items;
}

/** A one-line message for the replies of add/forget/import (`{ok, message}` or `{added, skipped, message}`). */
export function memoryMessage(result: unknown): { ok: boolean; message: string } {
  const r = (result && typeof result === "object" ? result : {}) as Record<string, unknown>;
  if (r.available === false) {
    return { ok: false, message: `memory unavailable: ${String(r.problem ?? "unknown reason")}` };
  }
  if (typeof r.added === "number") {
    const message = typeof r.message === "string" && r.message ? r.message : `imported ${r.added}, skipped ${r.skipped ?? 0}`;
    return { ok: true, message };
  }
  const ok = r.ok !== false;
  const message =
    typeof r.message === "string" && r.message ? r.message : ok ? "done" : `failed: ${JSON.stringify(result)}`;
  return { ok, message };
}

/** Parse an exported memory file for `codehearth.memory.import` (`{data: object}`). */
export function parseMemoryImport(text: string): { data: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${errorText(error)}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("expected a JSON object (a file written by CodeHearth: Export Memory)");
  }
  return { data: parsed as Record<string, unknown> };
}

/** What the *Doctor* command prints: the server's doctor table (as `codehearth doctor`
 * prints it), or why there is none. */
export function doctorText(report: unknown): string {
  const value = (report ?? {}) as { ok?: unknown; table?: unknown; error?: unknown };
  if (typeof value.table === "string") {
    const verdict = value.ok === true ? "no failures" : "a check FAILED: see its fix below it";
    return `CodeHearth doctor (${verdict}):\n${value.table}`;
  }
  const why = typeof value.error === "string" ? value.error : `unexpected answer ${JSON.stringify(report)}`;
  return `CodeHearth doctor: ${why}`;
}
