"""Golden-file tests: expected outputs stored as files next to their inputs."""
