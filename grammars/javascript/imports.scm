; JavaScript (and JSX) imports (see grammars/README.md, "Query files"). Matches that
; capture the same module node are one import. Names are the exported names taken
; (`import {a as b}` takes a), the local name of a default import, and * for
; `export * from`; a namespace import (`import * as m`) takes no names.

(import_statement source: (string (string_fragment) @import.module))

(import_statement
  (import_clause [
    (identifier) @import.name
    (named_imports (import_specifier name: (_) @import.name))
  ])
  source: (string (string_fragment) @import.module))

(export_statement source: (string (string_fragment) @import.module))

(export_statement
  (export_clause (export_specifier name: (_) @import.name))
  source: (string (string_fragment) @import.module))

(export_statement
  "*" @import.name
  source: (string (string_fragment) @import.module))

; require("m"), import("m")
(call_expression
  function: [(identifier) (import)] @_function
  arguments: (arguments . (string (string_fragment) @import.module))
  (#any-of? @_function "require" "import"))

; const {a, b: c} = require("m")
(variable_declarator
  name: (object_pattern [
    (shorthand_property_identifier_pattern) @import.name
    (pair_pattern key: (property_identifier) @import.name)
  ])
  value: (call_expression
    function: (identifier) @_function
    arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_function "require"))
