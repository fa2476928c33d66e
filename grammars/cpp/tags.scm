; C++ definitions and references (see grammars/README.md, "Query files").

(function_declarator
  declarator: [(identifier) (field_identifier) (operator_name)] @name.definition.function)

(function_declarator
  declarator: (qualified_identifier name: [(identifier) (operator_name)] @name.definition.method))

(class_specifier name: (type_identifier) @name.definition.class body: (_))

(struct_specifier name: (type_identifier) @name.definition.class body: (_))

(union_specifier name: (type_identifier) @name.definition.class body: (_))

(enum_specifier name: (type_identifier) @name.definition.type body: (_))

(enumerator name: (identifier) @name.definition.constant)

(alias_declaration name: (type_identifier) @name.definition.type)

(type_definition declarator: (type_identifier) @name.definition.type)

(namespace_definition name: (namespace_identifier) @name.definition.module)

(field_declaration declarator: [
  (field_identifier) @name.definition.field
  (pointer_declarator declarator: (field_identifier) @name.definition.field)
  (reference_declarator (field_identifier) @name.definition.field)
  (array_declarator declarator: (field_identifier) @name.definition.field)
])

(preproc_def name: (identifier) @name.definition.macro)

(preproc_function_def name: (identifier) @name.definition.macro)

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
    (qualified_identifier name: (identifier) @name.reference.call)
    (template_function name: (identifier) @name.reference.call)
  ])

(base_class_clause (type_identifier) @name.reference.class)

(new_expression type: (type_identifier) @name.reference.class)

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier

(field_identifier) @name.reference.identifier

(namespace_identifier) @name.reference.identifier
