"""The Prefect UI as the dashboard: metrics and artifact content, computed from plain records
(pure: no Prefect, Docker, git or database imports)."""
