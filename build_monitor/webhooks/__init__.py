"""Push webhooks (pure core): verification, payload parsing, repository matching and the
Prefect event a verified push becomes. No Prefect, Docker or web-framework imports here."""
