"""DynamoDB recovery runtime: table restore, on-demand backups and pruning."""
