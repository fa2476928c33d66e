; Java imports (see grammars/README.md, "Query files"): the qualifier is the module and
; the last segment the name, so `import a.b.C;` takes C from a.b, `import a.b.*;` takes *
; and `import static a.b.C.m;` takes m from a.b.C.

(import_declaration
  (scoped_identifier scope: (_) @import.module name: (identifier) @import.name) .)

(import_declaration
  (_) @import.module
  (asterisk) @import.name)
