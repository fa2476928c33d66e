def main():
    config = load()
    <|CURSOR|>

    run(config)
