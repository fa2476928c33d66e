; Rust use declarations (see grammars/README.md, "Query files"): the path is the module
; and the last segment the name, so `use a::b::C;` and `use a::b::{C, D};` both import
; from a::b; `use a::*` takes *; `use a;` takes nothing.

(use_declaration
  argument: [
    (scoped_identifier path: (_) @import.module name: (_) @import.name)
    (use_as_clause path: (scoped_identifier path: (_) @import.module name: (_) @import.name))
  ])

(use_declaration
  argument: [
    (identifier) @import.module
    (use_as_clause path: (identifier) @import.module)
  ])

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list
      [(identifier) (self) (scoped_identifier) (use_wildcard)] @import.name)))

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list (use_as_clause path: (_) @import.name))))

(use_declaration
  argument: (use_wildcard (_) @import.module "*" @import.name))
