"""Raw tables in, validated tables out: dataset configs, readers, column mapping, validation."""
