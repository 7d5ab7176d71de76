"""Law as data: obligations (REQUIREMENTS.md ids), article texts and dated parameters."""
