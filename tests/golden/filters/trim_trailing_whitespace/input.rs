fn main() {
    <|CURSOR|>
}
