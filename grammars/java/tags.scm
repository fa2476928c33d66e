; Java definitions and references (see grammars/README.md, "Query files").

(class_declaration name: (identifier) @name.definition.class)

(record_declaration name: (identifier) @name.definition.class)

(enum_declaration name: (identifier) @name.definition.class)

(enum_constant name: (identifier) @name.definition.constant)

(interface_declaration name: (identifier) @name.definition.interface)

(annotation_type_declaration name: (identifier) @name.definition.interface)

(method_declaration name: (identifier) @name.definition.method)

(constructor_declaration name: (identifier) @name.definition.method)

(field_declaration declarator: (variable_declarator name: (identifier) @name.definition.field))

(method_invocation name: (identifier) @name.reference.call)

(object_creation_expression type: [
  (type_identifier) @name.reference.class
  (generic_type (type_identifier) @name.reference.class)
])

(superclass (type_identifier) @name.reference.class)

(super_interfaces (type_list [
  (type_identifier) @name.reference.implementation
  (generic_type (type_identifier) @name.reference.implementation)
]))

(extends_interfaces (type_list [
  (type_identifier) @name.reference.implementation
  (generic_type (type_identifier) @name.reference.implementation)
]))

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier
