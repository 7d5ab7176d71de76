"""End users' requests (O24-9.2, CSL-43, NPC-8, O24-9.4): access, correction, deletion, cancellation."""
