def f():
    <|CURSOR|>
