"""The doors people use to reach the results: Tableau extracts and live access, dbt docs, Prefect UI."""
