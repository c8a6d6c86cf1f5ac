"""Data in: config, readers, inference, validation, generators."""
