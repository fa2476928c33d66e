; Rust definitions that become chunks (see grammars/README.md, "Query files"). An impl
; block is a class named after its type, so its functions are the methods Type.name;
; a trait is an interface and its provided methods are methods too. Modules are not
; chunks: their items are.

(function_item
  name: (identifier) @name
  body: (block) @body) @definition.function

(struct_item
  name: (type_identifier) @name) @definition.class

(union_item
  name: (type_identifier) @name) @definition.class

(enum_item
  name: (type_identifier) @name) @definition.type

(type_item
  name: (type_identifier) @name) @definition.type

(trait_item
  name: (type_identifier) @name
  body: (declaration_list) @body) @definition.interface

(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
  ]
  body: (declaration_list) @body) @definition.class

(macro_definition
  name: (identifier) @name) @definition.function
