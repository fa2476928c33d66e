def load_data():
    return []


result = compute(<|CURSOR|>)
