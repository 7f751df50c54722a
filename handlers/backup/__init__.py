"""AWS Backup at run time: job states, restore-test validation, restores from a recovery point, and status."""
