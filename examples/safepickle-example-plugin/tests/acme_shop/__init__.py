"""Stands for an organisation's own code: the package the example plugin's settings own."""
