; Python definitions that become chunks (see grammars/README.md, "Query files").
; Decorators belong to the definition (the chunker widens a definition to the
; decorated_definition around it). Nested functions stay inside their function's chunk.

(function_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.function

(class_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.class
