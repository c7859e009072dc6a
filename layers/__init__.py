"""Thematic layers, each declared once (see layers/base.py), and their workflows."""
