"""Readers that bring files into layers: formats → features → validation (gis/) → COPY."""
