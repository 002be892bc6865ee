"""DuckDB storage: connection, migrations, background writer, and one module per concern."""
