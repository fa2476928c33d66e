package main

func main() {
	<|CURSOR|>
}
