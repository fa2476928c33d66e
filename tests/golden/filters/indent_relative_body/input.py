class Cache:
    def get(self, key):<|CURSOR|>
