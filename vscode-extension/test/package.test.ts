// package.json must match what scripts/gen-settings.mjs makes from settings.snapshot.json
// (the rows of Python's codehearth.settings.describe()); the Python suite can compare the
// snapshot with describe() itself.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CLIENT_PROPERTIES, COMMANDS, LANGUAGES, RESTRICTED_SETTINGS, SettingsSnapshot, settingsProperties, toInitializationOptions } from "../src/logic";

const root = join(__dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const saved: SettingsSnapshot = JSON.parse(readFileSync(join(root, "settings.snapshot.json"), "utf8"));
const snapshot = saved.settings;
const properties: Record<string, unknown> = pkg.contributes.configuration.properties;

describe("package.json", () => {
  it("settings match settings.snapshot.json (run `npm run gen-settings` after changing settings.py)", () => {
    assert.ok(snapshot.length > 0);
    assert.deepEqual(properties, { ...CLIENT_PROPERTIES, ...settingsProperties(snapshot, saved.listItems) });
  });

  it("maps default types as documented", () => {
    const schema = settingsProperties([
      ["a.flag", true, ""],
      ["a.count", 3, ""],
      ["a.ratio", 0.5, ""],
      ["a.name", "x", ""],
      ["a.list", [], ""],
      ["a.maybe", null, ""],
    ]);
    assert.deepEqual(
      Object.values(schema).map((s) => s.type),
      ["boolean", "number", "number", "string", "array", ["string", "null"]],
    );
    assert.deepEqual(schema["codehearth.a.list"].items, { type: "string" });
    const tables = settingsProperties([["a.tables", [], ""]], { "a.tables": "object" });
    assert.deepEqual(tables["codehearth.a.tables"].items, { type: "object" });
    assert.equal(schema["codehearth.a.maybe"].default, null);
  });

  it("has the client-only settings; serverPath cannot come from a workspace", () => {
    assert.equal((properties["codehearth.serverPath"] as { scope: string }).scope, "machine");
    assert.deepEqual((properties["codehearth.trace.server"] as { enum: string[] }).enum, ["off", "messages", "verbose"]);
    assert.deepEqual(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations, RESTRICTED_SETTINGS);
    for (const key of RESTRICTED_SETTINGS) {
      assert.ok(key in properties, key);
    }
  });

  it("activates on every served language, and those match grammars/languages.toml", () => {
    assert.deepEqual(pkg.activationEvents, LANGUAGES.map((l) => `onLanguage:${l}`));
    const registry = join(root, "..", "grammars", "languages.toml");
    if (existsSync(registry)) {
      const ids = [...readFileSync(registry, "utf8").matchAll(/^\[([A-Za-z0-9_-]+)\]\s*$/gm)].map((m) => m[1]);
      assert.deepEqual([...ids].sort(), [...LANGUAGES].sort());
    }
  });

  it("contributes exactly the commands the extension registers", () => {
    const ids = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(ids, Object.values(COMMANDS).sort());
  });

  it("puts every command under the CodeHearth category; menus use contributed commands", () => {
    for (const command of pkg.contributes.commands) {
      assert.equal(command.category, "CodeHearth", command.command);
      assert.ok(command.title, command.command);
    }
    const ids = new Set(pkg.contributes.commands.map((c: { command: string }) => c.command));
    for (const items of Object.values(pkg.contributes.menus ?? {}) as { command: string }[][]) {
      for (const item of items) {
        assert.ok(ids.has(item.command), item.command);
      }
    }
  });

  it("has the fields vsce and VS Code need", () => {
    assert.equal(pkg.name, "codehearth");
    assert.equal(pkg.publisher, "codehearth");
    assert.equal(pkg.main, "./dist/extension.js");
    assert.equal(pkg.engines.vscode, "^1.90.0");
    assert.match(pkg.dependencies["vscode-languageclient"], /^\^9\./);
  });
});

// With the project's venv present (a checkout after `make install`), check against the live
// Python: the snapshot is current, and the server takes our initializationOptions silently.
const python = join(root, "..", ".venv", "bin", "python");
describe("against the Python settings", { skip: !existsSync(python) && "no ../.venv/bin/python" }, () => {
  const runPython = (code: string, input = "") =>
    execFileSync(python, ["-c", code], { input, encoding: "utf8", cwd: root, timeout: 60_000 });

  it("settings.snapshot.json equals describe() and list_item_types() (else run `npm run gen-settings`)", () => {
    const live = JSON.parse(
      runPython(
        "from codehearth.settings import describe, list_item_types; import json; " +
          "print(json.dumps({'settings': describe(), 'listItems': list_item_types()}, default=str))",
      ),
    );
    assert.deepEqual(saved, live);
  });

  it("the server accepts the default configuration as initializationOptions without warnings", () => {
    const configuration: Record<string, unknown> = { serverPath: "/x", trace: { server: "off" } };
    for (const [name, value] of snapshot) {
      const parts = name.split(".");
      let node = configuration;
      for (const part of parts.slice(0, -1)) {
        node = (node[part] ??= {}) as Record<string, unknown>;
      }
      node[parts[parts.length - 1]] = value;
    }
    const warnings = JSON.parse(
      runPython(
        "import json, sys; from codehearth.settings import build_settings; " +
          "print(json.dumps(list(build_settings(json.load(sys.stdin)).warnings)))",
        JSON.stringify(toInitializationOptions(configuration)),
      ),
    );
    assert.deepEqual(warnings, []);
  });
});
