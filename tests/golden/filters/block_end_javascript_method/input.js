class Cart {
  constructor() {
    this.items = [];
  }

  total() {
    <|CURSOR|>
  }

  clear() {
    this.items = [];
  }
}
