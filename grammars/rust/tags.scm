; Rust definitions and references (see grammars/README.md, "Query files").

(struct_item name: (type_identifier) @name.definition.class)

(union_item name: (type_identifier) @name.definition.class)

(enum_item name: (type_identifier) @name.definition.type)

(enum_variant name: (identifier) @name.definition.constant)

(type_item name: (type_identifier) @name.definition.type)

(trait_item name: (type_identifier) @name.definition.interface)

(declaration_list (function_item name: (identifier) @name.definition.method))

(declaration_list (function_signature_item name: (identifier) @name.definition.method))

(source_file (function_item name: (identifier) @name.definition.function))

(mod_item name: (identifier) @name.definition.module)

(macro_definition name: (identifier) @name.definition.macro)

(field_declaration name: (field_identifier) @name.definition.field)

(const_item name: (identifier) @name.definition.constant)

(static_item name: (identifier) @name.definition.constant)

(call_expression
  function: [
    (identifier) @name.reference.call
    (field_expression field: (field_identifier) @name.reference.call)
    (scoped_identifier name: (identifier) @name.reference.call)
  ])

(macro_invocation macro: (identifier) @name.reference.call)

(impl_item trait: (type_identifier) @name.reference.implementation)

(type_identifier) @name.reference.type

; Every other identifier used.
(identifier) @name.reference.identifier

(field_identifier) @name.reference.identifier
