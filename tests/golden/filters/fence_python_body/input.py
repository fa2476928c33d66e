def area(r):
    <|CURSOR|>


print(area(2))
