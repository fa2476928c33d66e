; JavaScript (and JSX) definitions that become chunks (see grammars/README.md, "Query
; files"). Functions stored in variables count as functions; object literal methods stay
; in the code around them.

(function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

(generator_function_declaration
  name: (identifier) @name
  body: (statement_block) @body) @definition.function

(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (statement_block) @body)
    (generator_function body: (statement_block) @body)
  ]) @definition.function

; exports.f = function () {}, Foo.prototype.bar = () => {}
(expression_statement
  (assignment_expression
    left: [
      (identifier) @name
      (member_expression property: (property_identifier) @name)
    ]
    right: [
      (arrow_function body: (_) @body)
      (function_expression body: (statement_block) @body)
    ])) @definition.function

(class_declaration
  name: (identifier) @name
  body: (class_body) @body) @definition.class

(variable_declarator
  name: (identifier) @name
  value: (class body: (class_body) @body)) @definition.class

(class_body
  (method_definition
    name: (_) @name
    body: (statement_block) @body) @definition.method)

(class_body
  (field_definition
    property: (property_identifier) @name
    value: [
      (arrow_function body: (_) @body)
      (function_expression body: (statement_block) @body)
    ]) @definition.method)
