; TypeScript and TSX definitions and references (see grammars/README.md, "Query files").
; The same file serves both grammars, so it names no JSX-only or TS-only node.

(function_declaration name: (identifier) @name.definition.function)

(generator_function_declaration name: (identifier) @name.definition.function)

(function_signature name: (identifier) @name.definition.function)

(variable_declarator
  name: (identifier) @name.definition.function
  value: [(arrow_function) (function_expression) (generator_function)])

(class_declaration name: (type_identifier) @name.definition.class)

(abstract_class_declaration name: (type_identifier) @name.definition.class)

(method_definition name: (property_identifier) @name.definition.method)

(method_signature name: (property_identifier) @name.definition.method)

(abstract_method_signature name: (property_identifier) @name.definition.method)

(public_field_definition name: (property_identifier) @name.definition.field)

(interface_declaration name: (type_identifier) @name.definition.interface)

(type_alias_declaration name: (type_identifier) @name.definition.type)

(enum_declaration name: (identifier) @name.definition.type)

(internal_module name: (identifier) @name.definition.module)

; Module constants and variables.
(program
  [
    (lexical_declaration (variable_declarator name: (identifier) @name.definition.constant))
    (variable_declaration (variable_declarator name: (identifier) @name.definition.constant))
    (export_statement
      declaration: (lexical_declaration
        (variable_declarator name: (identifier) @name.definition.constant)))
  ])

(call_expression function: (identifier) @name.reference.call)

(call_expression
  function: (member_expression property: (property_identifier) @name.reference.call))

(new_expression constructor: (identifier) @name.reference.class)

(extends_clause value: [
  (identifier) @name.reference.class
  (member_expression property: (property_identifier) @name.reference.class)
])

(implements_clause (type_identifier) @name.reference.implementation)

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier

(property_identifier) @name.reference.identifier

(shorthand_property_identifier) @name.reference.identifier
