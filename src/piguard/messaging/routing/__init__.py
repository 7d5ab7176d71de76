"""Routing per carrier (issue 13.5): which carrier's network a number is on (its segment, or the
ported-number table: 携号转网), and the outbound links that carry each carrier's messages."""
