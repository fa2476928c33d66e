; Python definitions and references (see grammars/README.md, "Query files").

(class_definition
  name: (identifier) @name.definition.class)

(function_definition
  name: (identifier) @name.definition.function)

; Module constants and class attributes.
(module
  (expression_statement
    (assignment left: (identifier) @name.definition.constant)))

(class_definition
  body: (block
    (expression_statement
      (assignment left: (identifier) @name.definition.field))))

(call
  function: [
    (identifier) @name.reference.call
    (attribute attribute: (identifier) @name.reference.call)
  ])

(class_definition
  superclasses: (argument_list [
    (identifier) @name.reference.class
    (attribute attribute: (identifier) @name.reference.class)
  ]))

(type (identifier) @name.reference.type)

(type (generic_type (identifier) @name.reference.type))

(decorator [
  (identifier) @name.reference.call
  (attribute attribute: (identifier) @name.reference.call)
  (call function: (identifier) @name.reference.call)
])

; Every other identifier used.
(identifier) @name.reference.identifier
