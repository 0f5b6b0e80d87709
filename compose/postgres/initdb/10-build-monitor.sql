-- The stack's second database, beside Prefect's (POSTGRES_DB): build-monitor's history.
CREATE DATABASE build_monitor;
