"""Cases on statutory clocks: complaints, end users' requests and incidents (sections B, C, E)."""
