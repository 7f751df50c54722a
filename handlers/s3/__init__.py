"""S3 recovery runtime: point-in-time restore, Batch Operations, delete auto-restore, replication audit and
the MFA-delete check."""
