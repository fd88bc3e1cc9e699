"""The scenario catalog: one TOML file per scenario, grouped in folders.

This folder ships inside the installed package as ``harness.scenarios``; it
holds no code.
"""
