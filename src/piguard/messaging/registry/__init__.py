"""The registry: SMS providers, content providers, ports, signatures and templates (O31-10, O31-12, O31-13, O31-21).

``service`` holds the logic and the snapshot the gateway reads once per batch; ``views`` the API.
"""
