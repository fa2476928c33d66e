def greet(name):
<|CURSOR|>
