; C includes (see grammars/README.md, "Query files"): "x.h" gives the module x.h, <x.h>
; keeps its angle brackets so system headers stay recognisable.

(preproc_include
  path: [
    (string_literal (string_content) @import.module)
    (system_lib_string) @import.module
  ])
