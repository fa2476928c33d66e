; Go imports (see grammars/README.md, "Query files"): one per import spec, without names
; (an alias or . or _ is how the package is bound, not what is taken from it).

(import_spec
  path: [
    (interpreted_string_literal (interpreted_string_literal_content) @import.module)
    (raw_string_literal (raw_string_literal_content) @import.module)
  ])
