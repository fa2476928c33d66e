; Go definitions and references (see grammars/README.md, "Query files").

(function_declaration name: (identifier) @name.definition.function)

(method_declaration name: (field_identifier) @name.definition.method)

(method_elem name: (field_identifier) @name.definition.method)

(type_spec name: (type_identifier) @name.definition.type)

(type_alias name: (type_identifier) @name.definition.type)

(field_declaration name: (field_identifier) @name.definition.field)

(source_file (var_declaration (var_spec name: (identifier) @name.definition.variable)))

(source_file (const_declaration (const_spec name: (identifier) @name.definition.constant)))

(call_expression
  function: [
    (identifier) @name.reference.call
    (parenthesized_expression (identifier) @name.reference.call)
    (selector_expression field: (field_identifier) @name.reference.call)
    (parenthesized_expression (selector_expression field: (field_identifier) @name.reference.call))
  ])

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier

(field_identifier) @name.reference.identifier

(package_identifier) @name.reference.identifier
