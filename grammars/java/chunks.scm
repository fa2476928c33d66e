; Java definitions that become chunks (see grammars/README.md, "Query files"). Methods
; and constructors with bodies are chunks of their class; abstract and interface methods
; stay in their type's chunk.

(class_declaration
  name: (identifier) @name
  body: (class_body) @body) @definition.class

(record_declaration
  name: (identifier) @name
  body: (class_body) @body) @definition.class

(enum_declaration
  name: (identifier) @name
  body: (enum_body (enum_body_declarations)? @members) @body) @definition.class

(interface_declaration
  name: (identifier) @name
  body: (interface_body) @body) @definition.interface

(annotation_type_declaration
  name: (identifier) @name) @definition.interface

(method_declaration
  name: (identifier) @name
  body: (block) @body) @definition.method

(constructor_declaration
  name: (identifier) @name
  body: (constructor_body) @body) @definition.method
