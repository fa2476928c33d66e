fn main() {
    let s = String::from(<|CURSOR|>);
}
