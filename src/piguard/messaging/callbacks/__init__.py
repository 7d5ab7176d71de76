"""Delivery reports and replies pushed to content providers over HTTP (signed, retried, recorded)
and kept for them to poll (O31-11, O31-20)."""
