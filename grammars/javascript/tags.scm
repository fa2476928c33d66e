; JavaScript (and JSX) definitions and references (see grammars/README.md, "Query files").

(function_declaration name: (identifier) @name.definition.function)

(generator_function_declaration name: (identifier) @name.definition.function)

(variable_declarator
  name: (identifier) @name.definition.function
  value: [(arrow_function) (function_expression) (generator_function)])

(class_declaration name: (identifier) @name.definition.class)

(method_definition name: (property_identifier) @name.definition.method)

(field_definition property: (property_identifier) @name.definition.field)

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

(class_heritage [
  (identifier) @name.reference.class
  (member_expression property: (property_identifier) @name.reference.class)
])

; JSX components (capitalised; lower-case names are HTML elements).
([
  (jsx_opening_element name: (identifier) @name.reference.class)
  (jsx_self_closing_element name: (identifier) @name.reference.class)
] (#match? @name.reference.class "^[A-Z]"))

; Every other identifier used.
(identifier) @name.reference.identifier

(property_identifier) @name.reference.identifier

(shorthand_property_identifier) @name.reference.identifier
