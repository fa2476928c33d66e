import os<|CURSOR|>


def main():
    pass
