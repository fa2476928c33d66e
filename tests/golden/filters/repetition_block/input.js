class Stack {
  <|CURSOR|>
}
