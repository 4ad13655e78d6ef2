"""A folder put on the PYTHONPATH of Airflow processes: Airflow imports ``airflow_local_settings`` from it."""
