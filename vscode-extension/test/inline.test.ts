// The inline-completion middleware, composed with the installed vscode-languageclient's own
// converter: what goes on the wire is an LSP context (trigger kinds 1/2, an LSP Range),
// where the library alone sends VS Code's (0/1, the range as a JSON array).
import assert from "node:assert/strict";
import Module from "node:module";
import { describe, it } from "node:test";
import {
  CodeInlineCompletionContext,
  LSP_INLINE_TRIGGER,
  VSCODE_INLINE_TRIGGER,
  convertInlineCompletionContext,
  toLspInlineCompletionContext,
} from "../src/logic";

/** vscode.Position / vscode.Range as they serialise: a Range's toJSON is `[start, end]`. */
class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
  toJSON() {
    return { line: this.line, character: this.character };
  }
}
class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
  toJSON() {
    return [this.start, this.end];
  }
}

type AsParams = (document: unknown, position: unknown, context: unknown) => unknown;

/** The library's code→protocol converter, loaded with a stand-in for the `vscode` module
 * (only its classes are touched at load time). */
function libraryConverter(): { asInlineCompletionParams: AsParams } {
  const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = loader._load;
  const vscode = new Proxy({}, { get: (_target, name) => (name === "__esModule" ? false : class {}) });
  loader._load = function (request: string, ...rest: unknown[]) {
    return request === "vscode" ? vscode : load.call(this, request, ...rest);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const codeConverter = require("vscode-languageclient/lib/common/codeConverter");
    return codeConverter.createConverter();
  } finally {
    loader._load = load;
  }
}

const document = { uri: "file:///w/calc.py" };
const cursor = new Position(4, 6);
const widgetOpen: CodeInlineCompletionContext = {
  triggerKind: VSCODE_INLINE_TRIGGER.automatic,
  selectedCompletionInfo: { range: new Range(new Position(4, 4), cursor), text: "print" },
};
const lspRange = { start: { line: 4, character: 4 }, end: { line: 4, character: 6 } };

/** The JSON the library sends for this context through the middleware. */
function wire(context: CodeInlineCompletionContext, middleware = true): unknown {
  const converter = libraryConverter();
  const next = (d: unknown, p: unknown, c: unknown) => converter.asInlineCompletionParams(d, p, c);
  const params = middleware
    ? convertInlineCompletionContext(document, cursor, context, undefined, next)
    : next(document, cursor, context);
  return JSON.parse(JSON.stringify(params));
}

describe("inline completion context", () => {
  it("maps VS Code's trigger kinds to the LSP's", () => {
    assert.equal(toLspInlineCompletionContext({ triggerKind: 0 }).triggerKind, LSP_INLINE_TRIGGER.invoked);
    assert.equal(toLspInlineCompletionContext({ triggerKind: 1 }).triggerKind, LSP_INLINE_TRIGGER.automatic);
  });

  it("copies the selected suggestion's range into a plain LSP Range", () => {
    const converted = toLspInlineCompletionContext(widgetOpen);
    assert.deepEqual(JSON.parse(JSON.stringify(converted)), {
      triggerKind: 2,
      selectedCompletionInfo: { range: lspRange, text: "print" },
    });
    assert.equal(toLspInlineCompletionContext({ triggerKind: 0 }).selectedCompletionInfo, undefined);
  });

  it("the installed vscode-languageclient alone sends VS Code's context (the reason for the middleware)", () => {
    // If this fails, the library converts the context itself now: drop the middleware.
    assert.deepEqual(wire(widgetOpen, false), {
      textDocument: document,
      position: { line: 4, character: 6 },
      context: {
        triggerKind: 1,
        selectedCompletionInfo: { range: [lspRange.start, lspRange.end], text: "print" },
      },
    });
  });

  it("through the middleware the library sends an LSP context", () => {
    assert.deepEqual(wire(widgetOpen), {
      textDocument: document,
      position: { line: 4, character: 6 },
      context: { triggerKind: 2, selectedCompletionInfo: { range: lspRange, text: "print" } },
    });
    assert.deepEqual(wire({ triggerKind: VSCODE_INLINE_TRIGGER.invoke }), {
      textDocument: document,
      position: { line: 4, character: 6 },
      context: { triggerKind: 1 },
    });
  });
});
