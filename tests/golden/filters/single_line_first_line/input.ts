const limit = <|CURSOR|>
