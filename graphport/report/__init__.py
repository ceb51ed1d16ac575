"""Human views of results: rich tables and Markdown."""
