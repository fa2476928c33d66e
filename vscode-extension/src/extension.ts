// CodeHearth for VS Code: starts `codehearth serve` over stdio and shows its status.
// Decisions live in ./logic (unit-tested); this file only wires them to VS Code.

import { spawn } from "node:child_process";
import * as os from "node:os";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";
import {
  CHAT_CHUNK_NOTIFICATION,
  COMMANDS,
  ChatSelection,
  LspRange,
  SERVER_COMMANDS,
  chatArguments,
  convertInlineCompletionContext,
  explainArguments,
  formatChatResult,
  formatQuestion,
  memoryMessage,
  memorySearchItems,
  parseMemoryImport,
  withoutOwnCommands,
  CONFIG_SECTION,
  LANGUAGES,
  SEARCHING,
  STATUS_COMMAND,
  StatusView,
  chatChunkText,
  discoverServer,
  doctorText,
  errorText,
  formatMissing,
  formatStatus,
  formatUnreachable,
  nextPollMs,
  probeVersion,
  serverCandidates,
  toInitializationOptions,
  venvLayout,
  withTimeout,
} from "./logic";

const MENU_COMMAND = "codehearth.showMenu";
const STATUS_TIMEOUT_MS = 10_000;
/** Doctor asks every endpoint for its models (each bounded by its connect timeout). */
const DOCTOR_TIMEOUT_MS = 30_000;
const MEMORY_TIMEOUT_MS = 30_000;
/** One conversation per VS Code window: follow-up questions see the earlier turns. */
const CONVERSATION_ID = "vscode";

let context: vscode.ExtensionContext;
let output: vscode.OutputChannel;
let chatOutput: vscode.OutputChannel;
/** Chunks seen since the current question was asked (an answer with none is printed whole). */
let chunksSeen = 0;
let statusItem: vscode.StatusBarItem;
let client: LanguageClient | undefined;
let pollTimer: NodeJS.Timeout | undefined;
let lifecycle: Promise<void> = Promise.resolve();

export function activate(ctx: vscode.ExtensionContext): Promise<void> {
  context = ctx;
  output = vscode.window.createOutputChannel("CodeHearth");
  chatOutput = vscode.window.createOutputChannel("CodeHearth Chat");
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "CodeHearth";
  statusItem.command = MENU_COMMAND;
  statusItem.show();
  ctx.subscriptions.push(
    output,
    chatOutput,
    statusItem,
    vscode.commands.registerCommand(COMMANDS.restart, () => restart()),
    vscode.commands.registerCommand(COMMANDS.showStatus, showStatus),
    vscode.commands.registerCommand(COMMANDS.doctor, showDoctor),
    vscode.commands.registerCommand(COMMANDS.toggleCompletions, toggleCompletions),
    vscode.commands.registerCommand(COMMANDS.openLog, () => output.show()),
    vscode.commands.registerCommand(COMMANDS.installServer, installServer),
    vscode.commands.registerCommand(MENU_COMMAND, showMenu),
    vscode.commands.registerCommand(COMMANDS.chat, ask),
    vscode.commands.registerCommand(COMMANDS.explainSelection, explainSelection),
    vscode.commands.registerCommand(COMMANDS.memoryShow, memoryShow),
    vscode.commands.registerCommand(COMMANDS.memoryAdd, memoryAdd),
    vscode.commands.registerCommand(COMMANDS.memorySearch, memorySearch),
    vscode.commands.registerCommand(COMMANDS.memoryExport, memoryExport),
    vscode.commands.registerCommand(COMMANDS.memoryImport, memoryImport),
    vscode.commands.registerCommand(COMMANDS.showStyle, showStyle),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${CONFIG_SECTION}.serverPath`)) {
        void restart();
      } else if (event.affectsConfiguration(CONFIG_SECTION)) {
        schedulePoll(1_000); // the server gets the change itself (synchronize); refresh the view
      }
    }),
    { dispose: () => clearTimeout(pollTimer) },
  );
  return serialize(start);
}

export function deactivate(): Promise<void> {
  return serialize(stop);
}

/** Start/stop/restart one at a time. */
function serialize(step: () => Promise<void>): Promise<void> {
  lifecycle = lifecycle.then(step, step);
  return lifecycle;
}

function restart(): Promise<void> {
  return serialize(async () => {
    await stop();
    await start();
  });
}

function show(view: StatusView): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.state === "problem"
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : view.state === "unreachable" || view.state === "missing"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : undefined;
}

async function start(): Promise<void> {
  show(SEARCHING);
  const configuration = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const candidates = serverCandidates({
    serverPath: configuration.get<string>("serverPath", ""),
    managedVenv: managedVenvDir(),
    platform: process.platform,
    home: os.homedir(),
  });
  const discovery = await discoverServer(candidates, (command) => probeVersion(command));
  if (!discovery.found) {
    output.appendLine(discovery.message);
    show(formatMissing(discovery.message));
    void offerHelp(discovery.message);
    return;
  }
  output.appendLine(`Starting ${discovery.command} serve (codehearth ${discovery.version}, found via ${discovery.source})`);

  const serverOptions: ServerOptions = {
    command: discovery.command,
    args: ["serve"],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
    synchronize: { configurationSection: CONFIG_SECTION },
    initializationOptions: () => toInitializationOptions(vscode.workspace.getConfiguration(CONFIG_SECTION)),
    outputChannel: output,
    traceOutputChannel: output,
    // vscode-languageclient 9.0.1 would send VS Code's inline-completion context as is
    // (trigger kinds in VS Code's numbering, the suggest widget's range as an array).
    middleware: { provideInlineCompletionItems: convertInlineCompletionContext },
  };
  const languageClient = new LanguageClient("codehearth", "CodeHearth", serverOptions, clientOptions);
  // Inline completions (LSP 3.18) are a "proposed" feature in vscode-languageclient 9:
  // without this the client never asks for textDocument/inlineCompletion.
  languageClient.registerProposedFeatures();
  // Some server commands share an id with ours (codehearth.chat, codehearth.memory.*):
  // keep vscode-languageclient from registering them a second time (that throws).
  const executeCommand = languageClient.getFeature("workspace/executeCommand");
  const registerServerCommands = executeCommand.register.bind(executeCommand);
  executeCommand.register = (data) =>
    registerServerCommands({ ...data, registerOptions: withoutOwnCommands(data.registerOptions, Object.values(COMMANDS)) });
  languageClient.onNotification(CHAT_CHUNK_NOTIFICATION, (params: unknown) => {
    chunksSeen += 1;
    chatOutput.append(chatChunkText(params));
  });
  client = languageClient;
  try {
    await languageClient.start();
  } catch (error) {
    output.appendLine(`The server did not start: ${String(error)}`);
    show(formatUnreachable(error));
    return;
  }
  await poll();
}

async function stop(): Promise<void> {
  clearTimeout(pollTimer);
  pollTimer = undefined;
  const running = client;
  client = undefined;
  if (running) {
    try {
      await running.stop(2_000);
    } catch (error) {
      output.appendLine(`Stopping the server: ${String(error)}`);
    }
  }
}

function runningClient(): LanguageClient {
  if (!client || !client.isRunning()) {
    throw new Error("the server is not running");
  }
  return client;
}

/** `workspace/executeCommand` sent as is (vscode.commands.executeCommand would convert the arguments). */
function serverCommand(command: string, args?: unknown): Promise<unknown> {
  return Promise.resolve(
    runningClient().sendRequest("workspace/executeCommand", { command, arguments: args === undefined ? [] : [args] }),
  );
}

async function requestStatus(): Promise<unknown> {
  runningClient();
  return withTimeout(serverCommand(STATUS_COMMAND), STATUS_TIMEOUT_MS, STATUS_COMMAND);
}

/** Refresh the status bar now, then again in 2 s (starting) or 30 s. Errors are shown, never thrown. */
async function poll(): Promise<void> {
  clearTimeout(pollTimer);
  let view: StatusView;
  try {
    view = formatStatus(await requestStatus());
  } catch (error) {
    view = formatUnreachable(error);
  }
  if (!client) {
    return; // stopped meanwhile; start() or the failure path owns the status bar
  }
  show(view);
  schedulePoll(nextPollMs(view));
}

function schedulePoll(ms: number): void {
  if (!client) {
    return;
  }
  clearTimeout(pollTimer);
  pollTimer = setTimeout(() => void poll(), ms);
}

async function showStatus(): Promise<void> {
  try {
    const report = await requestStatus();
    output.appendLine(`${STATUS_COMMAND}: ${JSON.stringify(report, null, 2)}`);
    show(formatStatus(report));
  } catch (error) {
    output.appendLine(`${STATUS_COMMAND} failed: ${String(error)}`);
    show(formatUnreachable(error));
  }
  output.show(true);
}

/** `codehearth doctor`'s table, run by the server on its own settings and models. */
async function showDoctor(): Promise<void> {
  try {
    runningClient();
    const report = await withTimeout(serverCommand(SERVER_COMMANDS.doctor), DOCTOR_TIMEOUT_MS, SERVER_COMMANDS.doctor);
    output.appendLine(doctorText(report));
  } catch (error) {
    output.appendLine(`CodeHearth doctor failed: ${errorText(error)}`);
  }
  output.show(true);
}

/** The style profile the server inferred (and the pins applied), as JSON in the log. */
async function showStyle(): Promise<void> {
  try {
    const profile = await withTimeout(serverCommand(SERVER_COMMANDS.style), STATUS_TIMEOUT_MS, SERVER_COMMANDS.style);
    output.appendLine(`${SERVER_COMMANDS.style}: ${JSON.stringify(profile, null, 2)}`);
    output.show(true);
  } catch (error) {
    reportFailure("Show Style Profile", error);
  }
}

async function toggleCompletions(): Promise<void> {
  const configuration = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const enabled = !configuration.get<boolean>("completion.enabled", true);
  await configuration.update("completion.enabled", enabled, vscode.ConfigurationTarget.Global);
  const inspected = configuration.inspect<boolean>("completion.enabled");
  const overridden = inspected?.workspaceValue !== undefined || inspected?.workspaceFolderValue !== undefined;
  void vscode.window.showInformationMessage(
    `CodeHearth completions turned ${enabled ? "on" : "off"} in your user settings.` +
      (overridden ? " Note: this workspace's settings set codehearth.completion.enabled and win." : ""),
  );
}

async function showMenu(): Promise<void> {
  const enabled = vscode.workspace.getConfiguration(CONFIG_SECTION).get<boolean>("completion.enabled", true);
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: "$(debug-restart) Restart server", command: COMMANDS.restart },
    { label: "$(pulse) Doctor: models, routes and grammars", description: "the table `codehearth doctor` prints, in the CodeHearth output", command: COMMANDS.doctor },
    { label: "$(json) Status", description: "codehearth.status, as JSON in the CodeHearth output", command: COMMANDS.showStatus },
    {
      label: enabled ? "$(circle-slash) Turn completions off" : "$(check) Turn completions on",
      description: "codehearth.completion.enabled (user settings)",
      command: COMMANDS.toggleCompletions,
    },
    { label: "$(symbol-color) Style profile", description: "codehearth.style, as JSON in the CodeHearth output", command: COMMANDS.showStyle },
    { label: "$(output) Open log", command: COMMANDS.openLog },
  ];
  const picked = await vscode.window.showQuickPick(items, { placeHolder: "CodeHearth" });
  if (picked) {
    await vscode.commands.executeCommand(picked.command);
  }
}

// ---------------------------------------------------------------- missing server

function managedVenvDir(): string {
  return vscode.Uri.joinPath(context.globalStorageUri, "venv").fsPath;
}

async function offerHelp(message: string): Promise<void> {
  const readme = "Open README";
  const setPath = "Set Server Path";
  const install = "Install…";
  const choice = await vscode.window.showErrorMessage(`CodeHearth: ${message}`, readme, setPath, install);
  if (choice === readme) {
    await vscode.commands.executeCommand("markdown.showPreview", vscode.Uri.joinPath(context.extensionUri, "README.md"));
  } else if (choice === setPath) {
    await vscode.commands.executeCommand("workbench.action.openSettings", `${CONFIG_SECTION}.serverPath`);
  } else if (choice === install) {
    await vscode.commands.executeCommand(COMMANDS.installServer);
  }
}

/** Run a process, streaming its output to the log; reject on a non-zero exit. */
function run(command: string, args: string[]): Promise<void> {
  output.appendLine(`$ ${command} ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { windowsHide: true });
    child.stdout.on("data", (data: Buffer) => output.append(data.toString()));
    child.stderr.on("data", (data: Buffer) => output.append(data.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

/** Only on explicit request, with a modal consent: a venv in global storage, then pip install. */
async function installServer(): Promise<void> {
  const dir = managedVenvDir();
  const consent = await vscode.window.showWarningMessage(
    `Create a virtual environment in ${dir} and install CodeHearth?`,
    { modal: true, detail: "Runs `python3 -m venv` and `pip install` (Python 3.11+ needed). Nothing else is changed." },
    "Create and Install",
  );
  if (consent !== "Create and Install") {
    return;
  }
  const requirement = await vscode.window.showInputBox({
    title: "What should pip install?",
    prompt: "A path to a CodeHearth checkout or wheel, or a pip requirement you trust",
    placeHolder: "/path/to/codehearth",
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : "Required"),
  });
  if (!requirement) {
    return;
  }
  output.show(true);
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Installing CodeHearth…" },
      async () => {
        await vscode.workspace.fs.createDirectory(context.globalStorageUri);
        await run(process.platform === "win32" ? "python" : "python3", ["-m", "venv", dir]);
        await run(venvLayout(dir).python, ["-m", "pip", "install", "--upgrade", requirement.trim()]);
      },
    );
  } catch (error) {
    void vscode.window.showErrorMessage(`CodeHearth: installation failed: ${String(error)}. See the CodeHearth output.`);
    return;
  }
  void vscode.window.showInformationMessage("CodeHearth installed; starting the server.");
  await restart();
}

// ---------------------------------------------------------------- chat

function toLspRange(range: vscode.Range): LspRange {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

function asProtocolUri(uri: vscode.Uri): string {
  return client ? client.code2ProtocolConverter.asUri(uri) : uri.toString();
}

function describeSelection(editor: vscode.TextEditor): string {
  const { start, end } = editor.selection;
  return `${vscode.workspace.asRelativePath(editor.document.uri)}:${start.line + 1}-${end.line + 1}`;
}

/** Print the question, stream the answer into "CodeHearth Chat", then the outcome. */
async function converse(command: string, args: unknown, heading: string): Promise<void> {
  chatOutput.show(true);
  chatOutput.append(heading);
  chunksSeen = 0;
  let result: unknown;
  try {
    result = await serverCommand(command, args);
  } catch (error) {
    result = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  const { text, error } = formatChatResult(result, chunksSeen > 0);
  chatOutput.append(text);
  if (error) {
    void vscode.window.showErrorMessage(`CodeHearth: ${error}`);
  }
}

async function ask(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const hasSelection = editor !== undefined && !editor.selection.isEmpty;
  const question = await vscode.window.showInputBox({
    title: "CodeHearth: Ask",
    prompt: hasSelection ? "Ask about the selected code" : "Ask CodeHearth",
    placeHolder: "Question",
    ignoreFocusOut: true,
  });
  if (question === undefined) {
    return;
  }
  const selection: ChatSelection | undefined =
    editor && hasSelection ? { uri: asProtocolUri(editor.document.uri), range: toLspRange(editor.selection) } : undefined;
  const args = chatArguments(question, selection, CONVERSATION_ID);
  if (!args) {
    return;
  }
  await converse(
    SERVER_COMMANDS.chat,
    args,
    formatQuestion(args.question, editor && hasSelection ? describeSelection(editor) : undefined),
  );
}

async function explainSelection(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage("CodeHearth: open a file and select code to explain.");
    return;
  }
  const selection = editor.selection;
  const line = editor.document.lineAt(selection.start.line);
  const args = explainArguments(
    asProtocolUri(editor.document.uri),
    toLspRange(selection),
    line.text.length,
    CONVERSATION_ID,
  );
  const where = `${vscode.workspace.asRelativePath(editor.document.uri)}:${args.range.start.line + 1}-${args.range.end.line + 1}`;
  await converse(SERVER_COMMANDS.explain, args, formatQuestion("Explain the selection", where));
}

// ---------------------------------------------------------------- memory

async function memoryCall(command: string, args?: unknown): Promise<unknown> {
  return withTimeout(serverCommand(command, args), MEMORY_TIMEOUT_MS, command);
}

function reportFailure(what: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  output.appendLine(`${what} failed: ${message}`);
  void vscode.window.showErrorMessage(`CodeHearth: ${what} failed: ${message}`);
}

function reportMemory(result: unknown): void {
  const { ok, message } = memoryMessage(result);
  if (ok) {
    void vscode.window.showInformationMessage(`CodeHearth memory: ${message}`);
  } else {
    void vscode.window.showErrorMessage(`CodeHearth memory: ${message}`);
  }
}

async function memoryShow(): Promise<void> {
  try {
    const result = await memoryCall(SERVER_COMMANDS.memoryShow);
    chatOutput.show(true);
    chatOutput.appendLine(`${SERVER_COMMANDS.memoryShow}: ${JSON.stringify(result, null, 2)}`);
  } catch (error) {
    reportFailure("Show Memory", error);
  }
}

async function memoryAdd(): Promise<void> {
  const text = await vscode.window.showInputBox({
    title: "CodeHearth: Add to Memory",
    prompt: "A note CodeHearth should remember for this workspace",
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : "Required"),
  });
  if (!text?.trim()) {
    return;
  }
  try {
    reportMemory(await memoryCall(SERVER_COMMANDS.memoryAdd, { text: text.trim() }));
  } catch (error) {
    reportFailure("Add to Memory", error);
  }
}

async function memorySearch(): Promise<void> {
  const query = await vscode.window.showInputBox({
    title: "CodeHearth: Search Memory",
    prompt: "Words to look for in notes and past conversations",
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : "Required"),
  });
  if (!query?.trim()) {
    return;
  }
  let items;
  try {
    items = memorySearchItems(await memoryCall(SERVER_COMMANDS.memorySearch, { query: query.trim(), limit: 20 }));
  } catch (error) {
    reportFailure("Search Memory", error);
    return;
  }
  if (items.length === 0) {
    void vscode.window.showInformationMessage(`CodeHearth memory: nothing found for "${query.trim()}".`);
    return;
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: `CodeHearth memory: ${query.trim()}`,
    placeHolder: "Choose a record to forget it",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) {
    return;
  }
  const forget = "Forget";
  const choice = await vscode.window.showWarningMessage(
    `Forget this record?`,
    { modal: true, detail: `${picked.label}\n${picked.detail}` },
    forget,
  );
  if (choice !== forget) {
    return;
  }
  try {
    reportMemory(await memoryCall(SERVER_COMMANDS.memoryForget, { id: picked.id }));
  } catch (error) {
    reportFailure("Forget", error);
  }
}

async function memoryExport(): Promise<void> {
  const target = await vscode.window.showSaveDialog({
    title: "CodeHearth: Export Memory",
    saveLabel: "Export",
    filters: { JSON: ["json"] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]
      ? vscode.Uri.joinPath(vscode.workspace.workspaceFolders[0].uri, "codehearth-memory.json")
      : undefined,
  });
  if (!target) {
    return;
  }
  try {
    const data = await memoryCall(SERVER_COMMANDS.memoryExport);
    await vscode.workspace.fs.writeFile(target, Buffer.from(`${JSON.stringify(data, null, 2)}\n`, "utf8"));
    void vscode.window.showInformationMessage(`CodeHearth memory exported to ${target.fsPath}.`);
  } catch (error) {
    reportFailure("Export Memory", error);
  }
}

async function memoryImport(): Promise<void> {
  const picked = await vscode.window.showOpenDialog({
    title: "CodeHearth: Import Memory",
    openLabel: "Import",
    canSelectMany: false,
    filters: { JSON: ["json"] },
  });
  if (!picked?.[0]) {
    return;
  }
  try {
    const bytes = await vscode.workspace.fs.readFile(picked[0]);
    const args = parseMemoryImport(Buffer.from(bytes).toString("utf8"));
    reportMemory(await memoryCall(SERVER_COMMANDS.memoryImport, args));
  } catch (error) {
    reportFailure("Import Memory", error);
  }
}
