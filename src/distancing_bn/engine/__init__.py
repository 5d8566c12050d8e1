"""The inference engine: compiled once per network, queried many times (being assembled)."""
