def setup():
    <|CURSOR|>
