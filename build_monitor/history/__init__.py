"""The history database: tables, migrations, CRUD, and what the dashboard and bisections read."""
