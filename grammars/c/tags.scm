; C definitions and references (see grammars/README.md, "Query files").

(function_declarator declarator: (identifier) @name.definition.function)

(struct_specifier name: (type_identifier) @name.definition.class body: (_))

(union_specifier name: (type_identifier) @name.definition.class body: (_))

(enum_specifier name: (type_identifier) @name.definition.type body: (_))

(enumerator name: (identifier) @name.definition.constant)

(type_definition declarator: (type_identifier) @name.definition.type)

(field_declaration declarator: [
  (field_identifier) @name.definition.field
  (pointer_declarator declarator: (field_identifier) @name.definition.field)
  (array_declarator declarator: (field_identifier) @name.definition.field)
])

(preproc_def name: (identifier) @name.definition.macro)

(preproc_function_def name: (identifier) @name.definition.macro)

(translation_unit
  (declaration declarator: [
    (identifier) @name.definition.variable
    (init_declarator declarator: (identifier) @name.definition.variable)
    (init_declarator declarator: (pointer_declarator declarator: (identifier) @name.definition.variable))
  ]))

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
  ])

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier

(field_identifier) @name.reference.identifier
