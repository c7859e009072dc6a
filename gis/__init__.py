"""Spatial core of Hromada GIS: database (embedded or external PostGIS), schema, CRS choice,
geometry checks and the error hierarchy. Nothing here imports Flask."""
