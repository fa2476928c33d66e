total = 3
print(<|CURSOR|>)
