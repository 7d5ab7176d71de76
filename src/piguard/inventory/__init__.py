"""Inventory of personal information, published rules and policy lint."""
