const greeting: string = "<|CURSOR|>";
