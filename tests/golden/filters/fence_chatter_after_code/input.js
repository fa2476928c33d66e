const items = [];
const total = items.reduce(<|CURSOR|>);
