package main

func sum(xs []int) int {
	total := 0
	<|CURSOR|>
	return total
}
