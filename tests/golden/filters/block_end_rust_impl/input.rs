struct Cart {
    prices: Vec<f64>,
}

impl Cart {
    fn total(&self) -> f64 {
        <|CURSOR|>
    }
}
