function total(prices: number[]): number {
  <|CURSOR|>
}
