// CodeHearth for VS Code: starts `codehearth serve` over stdio and shows its status.
// Decisions live in ./logic (unit-tested); this file only wires them to VS Code.

import { spawn } from "node:child_process";
import * as os from "node:os";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";
import {
  CHAT_CHUNK_NOTIFICATION,
  COMMANDS,
  CONFIG_SECTION,
  LANGUAGES,
  SEARCHING,
  STATUS_COMMAND,
  StatusView,
  chatChunkText,
  discoverServer,
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

let context: vscode.ExtensionContext;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let client: LanguageClient | undefined;
let pollTimer: NodeJS.Timeout | undefined;
let lifecycle: Promise<void> = Promise.resolve();

export function activate(ctx: vscode.ExtensionContext): Promise<void> {
  context = ctx;
  output = vscode.window.createOutputChannel("CodeHearth");
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "CodeHearth";
  statusItem.command = MENU_COMMAND;
  statusItem.show();
  ctx.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand(COMMANDS.restart, () => restart()),
    vscode.commands.registerCommand(COMMANDS.showStatus, showStatus),
    vscode.commands.registerCommand(COMMANDS.toggleCompletions, toggleCompletions),
    vscode.commands.registerCommand(COMMANDS.openLog, () => output.show()),
    vscode.commands.registerCommand(COMMANDS.installServer, installServer),
    vscode.commands.registerCommand(MENU_COMMAND, showMenu),
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
  };
  const languageClient = new LanguageClient("codehearth", "CodeHearth", serverOptions, clientOptions);
  // Inline completions (LSP 3.18) are a "proposed" feature in vscode-languageclient 9:
  // without this the client never asks for textDocument/inlineCompletion.
  languageClient.registerProposedFeatures();
  languageClient.onNotification(CHAT_CHUNK_NOTIFICATION, (params: unknown) => output.append(chatChunkText(params)));
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

async function requestStatus(): Promise<unknown> {
  if (!client || !client.isRunning()) {
    throw new Error("the server is not running");
  }
  return withTimeout(
    client.sendRequest("workspace/executeCommand", { command: STATUS_COMMAND, arguments: [] }),
    STATUS_TIMEOUT_MS,
    STATUS_COMMAND,
  );
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
    { label: "$(info) Show status", description: "JSON in the CodeHearth output", command: COMMANDS.showStatus },
    {
      label: enabled ? "$(circle-slash) Turn completions off" : "$(check) Turn completions on",
      description: "codehearth.completion.enabled (user settings)",
      command: COMMANDS.toggleCompletions,
    },
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
