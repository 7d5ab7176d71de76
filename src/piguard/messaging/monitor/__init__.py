"""The early-warning monitor (O31-22, O31-23): signals, alerts and suspensions (``service``), its tables
(``models``), worker round (``jobs``), commands (``cli``) and API (``views``).
"""
