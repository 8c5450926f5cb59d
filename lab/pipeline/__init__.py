"""Pipeline: papermill runs, run history, HTML export, the report index and the scheduler."""
