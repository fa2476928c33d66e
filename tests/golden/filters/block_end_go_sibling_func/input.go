package shop

type Item struct {
	Price float64
}

func Total(items []Item) float64 {
	<|CURSOR|>
}
