; Python imports (see grammars/README.md, "Query files"). Matches that capture the same
; module node are one import: `import a.b, c as d` gives the modules a.b and c;
; `from ..m import x, y as z` gives the module ..m with the names x and y.

(import_statement
  name: [
    (dotted_name) @import.module
    (aliased_import name: (dotted_name) @import.module)
  ])

(import_from_statement
  module_name: (_) @import.module
  name: [
    (dotted_name) @import.name
    (aliased_import name: (dotted_name) @import.name)
  ])

(import_from_statement
  module_name: (_) @import.module
  (wildcard_import) @import.name)
