; C++ definitions that become chunks (see grammars/README.md, "Query files"). Functions
; defined inside a class are its methods; `Type::name` defined outside is the method
; Type.name (@scope), which also catches functions qualified by a namespace. Templates
; belong to the definition they declare. Namespaces are not chunks: their members are.

(function_definition
  declarator: [
    (function_declarator
      declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator
      declarator: (function_declarator
        declarator: [(identifier) (field_identifier) (operator_name)] @name))
    (reference_declarator
      (function_declarator
        declarator: [(identifier) (field_identifier) (operator_name)] @name))
  ]
  body: (compound_statement) @body) @definition.function

(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        scope: (_) @scope
        name: [(identifier) (operator_name) (destructor_name)] @name))
    (function_declarator
      declarator: (qualified_identifier
        name: (qualified_identifier
          scope: (_) @scope
          name: [(identifier) (operator_name) (destructor_name)] @name)))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier scope: (_) @scope name: (_) @name)))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier scope: (_) @scope name: (_) @name)))
  ]
  body: (compound_statement) @body) @definition.method

(class_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.class

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.class

(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body) @definition.class

(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list)) @definition.type

(alias_declaration
  name: (type_identifier) @name) @definition.type

(type_definition
  type: [
    (struct_specifier body: (field_declaration_list))
    (class_specifier body: (field_declaration_list))
    (union_specifier body: (field_declaration_list))
  ]
  declarator: (type_identifier) @name) @definition.class

(type_definition
  declarator: (type_identifier) @name) @definition.type
