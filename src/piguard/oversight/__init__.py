"""Oversight: the audit log's search and verification faces, training, agents, access reviews,
media, self-inspection and the evidence bundle (O24-11, O24-13.4-13.6, O24-15, O24-16)."""
