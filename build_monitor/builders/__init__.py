"""Building, testing and health-checking one commit (Docker, BuildKit, local cargo)."""
