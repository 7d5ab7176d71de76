"""Law as data: obligations (REQUIREMENTS.md ids), article texts and dated parameters.

- ``piguard.regulations.parameters.value(name, on=date)``: a dated regulatory number.
- ``piguard.regulations.service``: ``obligations()``, ``obligation(id)``, ``parameters_for(id)``,
  ``penalty_for(id)``, ``require_known(*ids)``, ``matrix()``.
- ``piguard.regulations.markers.carries(...)``: tie code to the obligations it carries.

Nothing is imported here, so importing the markers stays cheap.
"""
