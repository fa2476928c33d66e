; C definitions that become chunks (see grammars/README.md, "Query files"). Prototypes
; and variables stay in the file's header chunk. A typedef of a struct is a class; when
; the struct also has a tag, the typedef (the outer node) is the chunk.

(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator
        declarator: (function_declarator declarator: (identifier) @name)))
  ]
  body: (compound_statement) @body) @definition.function

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list)) @definition.type

(type_definition
  type: [
    (struct_specifier body: (field_declaration_list))
    (union_specifier body: (field_declaration_list))
  ]
  declarator: (type_identifier) @name) @definition.class

(type_definition
  declarator: (type_identifier) @name) @definition.type
