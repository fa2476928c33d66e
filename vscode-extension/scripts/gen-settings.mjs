#!/usr/bin/env node
// Regenerate the settings part of package.json from the Python settings.
//
//   node scripts/gen-settings.mjs              # runs ../.venv/bin/python (describe())
//   node scripts/gen-settings.mjs snapshot.json  # reads a saved snapshot
//
// Writes settings.snapshot.json ({settings: the describe() rows verbatim, listItems: the
// item type of each list setting}) and, in package.json,
// contributes.configuration, activationEvents and the untrusted-workspace restrictions.
// Needs the compiled logic (`npm run gen-settings` compiles first).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import logic from "../out/src/logic.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const python = process.env.CODEHEARTH_PYTHON ?? join(root, "..", ".venv", "bin", "python");
const code =
  "from codehearth.settings import describe, list_item_types; import json; " +
  "print(json.dumps({'settings': describe(), 'listItems': list_item_types()}, default=str))";

const source = process.argv[2];
const text = source
  ? readFileSync(source, "utf8")
  : execFileSync(python, ["-c", code], { encoding: "utf8", cwd: root });
const snapshot = JSON.parse(text);
const rows = snapshot.settings;
if (!Array.isArray(rows) || rows.some((row) => !Array.isArray(row) || row.length !== 3)) {
  throw new Error("expected {settings: describe() rows [[name, default, doc], ...], listItems}");
}

const packagePath = join(root, "package.json");
const pkg = JSON.parse(readFileSync(packagePath, "utf8"));
pkg.activationEvents = logic.LANGUAGES.map((language) => `onLanguage:${language}`);
pkg.capabilities = {
  ...pkg.capabilities,
  untrustedWorkspaces: {
    supported: "limited",
    description: "The server path, model endpoints, cloud opt-in, the embedded model file and the log file are taken from user settings only.",
    restrictedConfigurations: logic.RESTRICTED_SETTINGS,
  },
};
pkg.contributes = {
  ...pkg.contributes,
  configuration: {
    title: "CodeHearth",
    properties: {
      ...logic.CLIENT_PROPERTIES,
      ...logic.settingsProperties(rows, snapshot.listItems ?? {}),
    },
  },
};
writeFileSync(packagePath, `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(join(root, "settings.snapshot.json"), `${JSON.stringify(snapshot, null, 2)}\n`);
console.log(`${rows.length} server settings written to package.json and settings.snapshot.json`);
