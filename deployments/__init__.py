"""Deployments of the flows, built from config.toml."""
